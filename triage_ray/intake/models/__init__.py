"""The five intake models: XGBoost per task, a Transformer per task, one multi-task Transformer."""
