"""Each of the five models trains on a tiny set: XGBoost per task, a Transformer per task, and
the multi-task Transformer under every registered loss weighting."""

import math

import numpy as np
import pytest
import torch

from triage_ray.intake.features import TabularFeaturizer
from triage_ray.intake.models.multitask import multitask_transformer, single_task_transformer
from triage_ray.intake.models.transformer import TriageTransformer, encoder_config, matched_width
from triage_ray.intake.models.xgb import XGBTaskModel
from triage_ray.intake.schema import TASKS
from triage_ray.intake.tokenize import encode, record_texts, train_tokenizer
from triage_ray.intake.train import epochs_for, fit_transformer, memory_batches, predict_logits
from triage_ray.intake.weighting import WEIGHTINGS, create_weighting

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny(records):
    df = records[0]
    train, test = df.iloc[:400], df.iloc[400:600]
    tok = train_tokenizer(record_texts(train), vocab_size=300)

    def tensors(d):
        ids, mask = encode(tok, record_texts(d), 32)
        out = {"input_ids": torch.from_numpy(ids).long(), "attention_mask": torch.from_numpy(mask).long(),
               "record_id": torch.from_numpy(d.record_id.to_numpy().copy())}
        return out | {t: torch.from_numpy(d[t].to_numpy().copy()) for t in TASKS}

    return train, test, tensors(train), tensors(test), tok.get_vocab_size()


@pytest.mark.parametrize("task", list(TASKS))
def test_xgboost_per_task(tiny, task):
    train, test, *_ = tiny
    feats = TabularFeaturizer(max_text_features=50).fit(train)
    X, Xt = feats.transform(train), feats.transform(test)
    assert X.shape[1] == len(feats.feature_names_) and np.isnan(X).any()  # missing kept as NaN
    k = len(TASKS[task])
    y = train[task].to_numpy()
    m = XGBTaskModel(k, n_estimators=40, seed=0).fit(X, y, Xt, test[task].to_numpy())
    z = m.logits(Xt)
    assert z.shape == (len(test), k) and m.best_iteration_ < 40
    train_acc = (m.logits(X).argmax(1) == y).mean()
    assert train_acc > np.bincount(y).max() / len(y)  # beats the majority class
    with pytest.raises(RuntimeError, match="not fitted"):
        XGBTaskModel(k).logits(Xt)


def _fit(setup, tiny, epochs=4):
    *_, tr, te, vocab = tiny
    cfg = encoder_config(vocab, hidden=32, layers=1, heads=2, intermediate=64, max_len=32)
    torch.manual_seed(0)
    kind, arg = setup
    model = single_task_transformer(cfg, arg) if kind == "single" else multitask_transformer(cfg)
    weighting = create_weighting(arg if kind == "multi" else "fixed", model.tasks)
    log = fit_transformer(model, weighting, lambda e: memory_batches(tr, e, batch_size=32, seed=0),
                          epochs=epochs, steps_per_epoch=math.ceil(400 / 32), lr=3e-3,
                          probe_every=2 if kind == "multi" else 0)
    preds = predict_logits(model, memory_batches(te, 0, batch_size=64, seed=0, shuffle=False))
    return model, weighting, log, preds


SETUPS = [("single", t) for t in TASKS] + [("multi", w) for w in sorted(WEIGHTINGS)]


@pytest.mark.parametrize("setup", SETUPS, ids=lambda s: f"{s[0]}-{s[1]}")
def test_transformer_setups_train(tiny, setup):
    model, weighting, log, preds = _fit(setup, tiny)
    assert log.epoch_loss[-1] < log.epoch_loss[0]  # it learns
    assert log.steps == 4 * math.ceil(400 / 32) and log.cpu_s > 0 and log.train_flops > 0
    for task in model.tasks:
        assert preds[f"{task}_logits"].shape == (200, len(TASKS[task]))
        assert np.isfinite(preds[f"{task}_logits"]).all()
    np.testing.assert_array_equal(np.sort(preds["record_id"]), np.arange(400, 600))
    if setup[0] == "multi":
        assert len(log.grad_cosine) == len(log.affinity) == log.steps // 2
        assert all(-1.0 <= c <= 1.0 for _, c in log.grad_cosine)
        assert all(set(a) == {"urgency->specialty", "specialty->urgency"} for _, a in log.affinity)
        assert set(log.task_weights) == set(TASKS)
    if setup == ("multi", "uncertainty"):
        assert log.task_weights != {"urgency": 1.0, "specialty": 1.0}  # weights were learned


def test_unknown_labels_are_ignored_in_the_loss(tiny):
    *_, tr, _, vocab = tiny
    model = multitask_transformer(encoder_config(vocab, hidden=32, layers=1, heads=2,
                                                 intermediate=64, max_len=32))
    batch = {k: v[:16].clone() for k, v in tr.items()}
    batch["specialty"][:] = -1  # a real file with only urgency labels
    from triage_ray.intake.train import task_losses

    losses = task_losses(model, batch)
    assert set(losses) == {"urgency"} and torch.isfinite(losses["urgency"])


def test_validation_chooses_the_epoch_and_restores_its_weights(tiny):
    """Early stopping: the kept weights are the best-scoring epoch's, not the last one's."""
    *_, tr, _, vocab = tiny
    cfg = encoder_config(vocab, hidden=32, layers=1, heads=2, intermediate=64, max_len=32)
    torch.manual_seed(0)
    model = single_task_transformer(cfg, "urgency")
    scores = iter([0.3, 0.5, 0.4, 0.45, 0.2, 0.1])
    snapshots = []

    def validate():
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return next(scores)

    log = fit_transformer(model, create_weighting("fixed", model.tasks),
                          lambda e: memory_batches(tr, e, batch_size=32, seed=0), epochs=6,
                          steps_per_epoch=13, lr=3e-3, validate=validate, patience=2)
    assert log.best_epoch == 1 and log.epochs == 4 and log.max_epochs == 6  # stopped at epoch 3
    assert log.val_score == [0.3, 0.5, 0.4, 0.45]
    for k, v in model.state_dict().items():
        assert torch.equal(v, snapshots[1][k])


def test_matched_width_doubles_the_parameters():
    heads = {t: len(c) for t, c in TASKS.items()}
    w = matched_width(500, 32, heads, layers=1, attention_heads=2, max_len=32)
    size = lambda width, h: TriageTransformer(  # noqa: E731
        encoder_config(500, width, 1, 2, 2 * width, 32), h).n_parameters()
    pair = sum(size(32, {t: k}) for t, k in heads.items())
    assert w > 32 and w % 2 == 0
    assert abs(size(w, heads) - pair) <= abs(size(w + 2, heads) - pair)
    assert abs(size(w, heads) - pair) / pair < 0.05


def test_epochs_scale_with_training_size():
    assert epochs_for(1000, 10_000, 3, 12) == 10
    assert epochs_for(5000, 10_000, 3, 12) == 3
    assert epochs_for(100, 10_000, 3, 12) == 12
