"""Learning from the user's music: the dataset format, the annotation workflow and MusicGen LoRA training.

- :mod:`weavewave.train.dataset`: the dataset folder both sides share (JSON Lines plus audio files, a
  dataset card that ``datasets.load_dataset(folder)`` reads directly).
- :mod:`weavewave.train.annotate`: ``weavewave annotate MUSIC_DIR --out DATASET`` (describer, writer and
  reviewer roles over weavewave's own analysis).
- :mod:`weavewave.train.musicgen`: ``weavewave train musicgen`` (transformers + PEFT LoRA + accelerate).
- :mod:`weavewave.train.adapter`: what an adapter folder records, checking it against a base model,
  and listing the adapters on this machine.

Nothing here imports torch, transformers, peft, accelerate or datasets at import time.
"""

# ``weavewave annotate --segment``: a length in seconds, or one of these (here, so --help stays light).
SEGMENT_MODES = ("sections",)

# ``weavewave train musicgen`` defaults (here, so --help stays light): LoRA rank, alpha and learning rate
# from the public MusicGen dreamboothing recipe, scaled for a laptop; the mixed-precision choices.
DEFAULT_RANK = 16
DEFAULT_ALPHA = 32
DEFAULT_LR = 2e-4
MIXED = ("auto", "no", "fp16", "bf16")
