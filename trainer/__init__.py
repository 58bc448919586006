"""What trains and evaluates: TRL SFTTrainer + LoRA, runnable on its own.

Never imports `studio`: it takes a run folder with a config and data, and writes metrics, an
adapter and an evaluation there. (Filled in by the trainer issue.)
"""
