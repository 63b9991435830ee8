"""The training engine: torch, transformers, peft and bitsandbytes; never Qt."""
