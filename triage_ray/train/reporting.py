"""Names of what the Train worker reports each epoch (torch-free, so sweeps and reports can use them)."""

EPOCH_KEY = "epoch_done"  # epochs finished so far (1-based)
# The scheduler's time attribute, present on every epoch's report but the last. Why not EPOCH_KEY:
# ASHA puts a rung at max_t as well, and a trial cut there has paid for all of its training and is
# killed before it is scored. Without this key on the last report, no rung can fall on it.
SCHEDULER_TIME = "epochs_before_last"
EPOCH_METRICS = ("train_loss", "val_loss", "val_auroc")  # reported every epoch by rank 0


def epoch_counters(epoch: int, epochs: int) -> dict[str, int]:
    """The counters of the report after 0-based `epoch` of `epochs`."""
    out = {"epoch": epoch, EPOCH_KEY: epoch + 1}
    if epoch + 1 < epochs:
        out[SCHEDULER_TIME] = epoch + 1
    return out
