"""The MusicGen backend through transformers: text, melody conditioning, continuation."""
