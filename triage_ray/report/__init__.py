"""Reports written from a run's artifacts (never typed by hand): summaries, memo, model card, dashboard."""
