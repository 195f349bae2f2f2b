"""The ``flow`` backend: conditional flow matching in a pretrained audio VAE's latent space (MusFlow).

- :mod:`.model`: the velocity model (a small transformer over latent frames, conditioned on a caption
  embedding by adaptive layer norm, with a learned null embedding for classifier-free guidance), its
  config, and saving/loading as safetensors + ``config.json``.
- :mod:`.vae`: the audio VAE (diffusers' ``AutoencoderOobleck``, Stable Audio Open's waveform VAE).
- :mod:`.condition`: captions -> condition vectors (CLAP text space with CLAP weights, else the shipped
  all-MiniLM-L6-v2 sentence model).
- :mod:`.sampling`: the ODE solver (Euler or midpoint) with guidance, and long form by windows.
- :mod:`.generator`: brief in, Track out (registered as ``--backend flow``).
- :mod:`.data` and :mod:`.train`: the dataset reader and ``weavewave train flow``.
- :mod:`.ldm`: a pretrained MusicLDM pipeline driven by the same condition, for users without a flow model.

Nothing here imports torch or diffusers at import time.
"""
