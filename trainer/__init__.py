"""What trains and evaluates: TRL SFTTrainer + LoRA, runnable on its own.

Never imports `studio`: it takes a run folder with a config (`config.toml`) and data (an SFT
Studio export, messages schema), and writes metrics, checkpoints, an adapter, a model card and
an evaluation there. `python -m trainer RUN/config.toml`; see trainer/__main__.py.
"""
