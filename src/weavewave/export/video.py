"""Putting the soundtrack back into the video: ``video.mp4``.

The picture is copied packet for packet (no re-encode: no quality loss, and it takes a fraction of a
second); the music is encoded as AAC. With ``keep_audio`` the video's own sound is kept and mixed
under the music with ducking: **the music ducks under the original sound**, by up to
:data:`DUCK_DB` dB where that sound is loud (speech, effects), so dialogue stays intelligible and the
music fills the quiet stretches. The original sound plays at its own level.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from weavewave.errors import BadInputError

AAC_BITRATE = 192_000
AAC_FRAME = 1024  # samples per AAC frame
DUCK_DB = 12.0  # most the music is lowered under the original sound
DUCK_FLOOR_DB = -45.0  # original sound below this level (dBFS RMS) does not duck the music
DUCK_RANGE_DB = 20.0  # ... and from this far above the floor the music is fully ducked
ENVELOPE_WINDOW_S = 0.05
ATTACK_S, RELEASE_S = 0.02, 0.4
PEAK_CEILING = 10 ** (-1.0 / 20)


def mux_soundtrack(
    video: str | Path, audio: np.ndarray, sample_rate: int, target: str | Path, *, keep_audio: bool = False
) -> dict[str, float]:
    """Write ``target``: the video stream of ``video`` copied, and ``audio`` as an AAC track.

    Parameters
    ----------
    video : the source video file.
    audio : np.ndarray [shape=(n, 2), float32] the soundtrack, starting at the video's start.
    sample_rate : samples per second of ``audio``.
    target : the .mp4 file to write.
    keep_audio : mix the video's own sound in, with the music ducked under it.

    Returns
    -------
    dict with ``ducked_db`` (the most the music was lowered, 0 without ``keep_audio``).
    """
    from weavewave.io.video import open_video, picture_streams, require_av

    av = require_av()
    source = Path(video)
    src = open_video(source)
    stats = {"ducked_db": 0.0}
    try:
        pictures = picture_streams(src)
        if not pictures:
            raise BadInputError(f"{source.name} has no video stream to put the music under")
        vin = pictures[0]
        mix = np.asarray(audio, dtype=np.float32)
        if keep_audio and src.streams.audio:
            original = _decode_audio(src, sample_rate, mix.shape[0])
            mix, stats["ducked_db"] = duck_and_mix(mix, original, sample_rate)
            src.seek(0)
        with av.open(str(target), "w", format="mp4") as dst:
            vout = dst.add_stream_from_template(vin)
            aout = dst.add_stream("aac", rate=sample_rate, layout="stereo")
            aout.bit_rate = AAC_BITRATE
            for packet in src.demux(vin):
                if packet.dts is None:
                    continue
                packet.stream = vout
                dst.mux(packet)
            _encode_audio(dst, aout, mix, sample_rate)
    finally:
        src.close()
    return stats


def _encode_audio(dst, stream, audio: np.ndarray, sample_rate: int) -> None:  # noqa: ANN001
    import av

    planar = np.ascontiguousarray(audio.T)
    for start in range(0, planar.shape[1], AAC_FRAME):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(planar[:, start : start + AAC_FRAME]), format="fltp", layout="stereo"
        )
        frame.sample_rate = sample_rate
        frame.pts = start
        for packet in stream.encode(frame):
            dst.mux(packet)
    for packet in stream.encode():
        dst.mux(packet)


def _decode_audio(src, sample_rate: int, n: int) -> np.ndarray:  # noqa: ANN001
    """The first audio track as float32 [shape=(n, 2)] at ``sample_rate`` (cut or padded with silence)."""
    import av

    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=sample_rate)
    out = np.zeros((2, n), np.float32)
    at = 0
    try:
        for frame in src.decode(src.streams.audio[0]):
            for res in resampler.resample(frame):
                x = res.to_ndarray()
                m = min(x.shape[1], n - at)
                if m > 0:
                    out[:, at : at + m] = x[:, :m]
                at += x.shape[1]
            if at >= n:
                break
    except av.FFmpegError:
        pass  # a damaged tail of the original sound: keep what decoded
    return out.T


def duck_and_mix(music: np.ndarray, original: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """Music lowered where the original sound is loud, plus the original; peaks kept under -1 dBFS.

    Parameters
    ----------
    music, original : np.ndarray [shape=(n, 2), float32]

    Returns
    -------
    The mix [shape=(n, 2), float32] and the deepest ducking applied, in dB (positive).
    """
    gain = ducking_gain(original, sample_rate)
    mix = music * gain[:, None] + original
    peak = float(np.abs(mix).max()) if mix.size else 0.0
    if peak > PEAK_CEILING:
        mix *= np.float32(PEAK_CEILING / peak)
    deepest = -20 * np.log10(max(float(gain.min()), 1e-9)) if gain.size else 0.0
    return mix.astype(np.float32), round(deepest, 2)


def ducking_gain(original: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per-sample music gain [shape=(n,)] from the original's level: fast attack, slow release."""
    n = original.shape[0]
    win = max(1, int(ENVELOPE_WINDOW_S * sample_rate))
    power = np.mean(original.astype(np.float64) ** 2, axis=1)
    blocks = -(-n // win)
    padded = np.zeros(blocks * win)
    padded[:n] = power
    level_db = 10 * np.log10(np.maximum(padded.reshape(blocks, win).mean(axis=1), 1e-12))
    amount = np.clip((level_db - DUCK_FLOOR_DB) / DUCK_RANGE_DB, 0.0, 1.0)
    # attack/release smoothing on the block envelope
    a_up = 1 - np.exp(-ENVELOPE_WINDOW_S / ATTACK_S)
    a_down = 1 - np.exp(-ENVELOPE_WINDOW_S / RELEASE_S)
    smooth = np.empty_like(amount)
    state = 0.0
    for k, x in enumerate(amount):
        state += (a_up if x > state else a_down) * (x - state)
        smooth[k] = state
    gain_db = -DUCK_DB * smooth
    per_block = 10 ** (gain_db / 20)
    centres = (np.arange(blocks) + 0.5) * win
    return np.interp(np.arange(n), centres, per_block).astype(np.float32)
