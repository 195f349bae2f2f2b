"""Cost of the CLAP metrics on CPU with a full-size CLAP (HTS-AT + RoBERTa, LAION's unfused layout).

    .venv/bin/python bench/bench_clap.py [--tracks 10] [--cache out/bench-eval]

No weights can be downloaded here, so the model is built from transformers' default ``ClapConfig``
(the architecture of ``laion/clap-htsat-unfused``) with random weights, saved, and loaded back through
``weavewave.evaluate.neural.load_clap``: the compute is the same as with the real weights, the scores
are meaningless. Uses the pieces ``bench/bench_eval.py`` cached in ``--cache``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _byte_tokenizer():
    from transformers import RobertaTokenizer

    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs, extra = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for c in cs:
        vocab.setdefault(chr(c), len(vocab))
    vocab["<mask>"] = len(vocab)
    return RobertaTokenizer(vocab=vocab, merges=[])


def main() -> None:
    import torch
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor

    from weavewave.brief import MusicBrief
    from weavewave.evaluate import neural
    from weavewave.evaluate.collect import load_audio

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=10)
    ap.add_argument("--cache", default="out/bench-eval")
    args = ap.parse_args()
    torch.set_num_threads(2)
    folders = sorted((Path(args.cache) / "A").iterdir())[: args.tracks]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        model = ClapModel(ClapConfig())
        ClapProcessor(
            feature_extractor=ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad"),
            tokenizer=_byte_tokenizer(),
        ).save_pretrained(tmp)
        model.save_pretrained(tmp)
        del model
        t1 = time.perf_counter()
        clap = neural.load_clap(tmp)
        t2 = time.perf_counter()
        params = sum(p.numel() for p in clap.model.parameters()) / 1e6
        score, embed = [], []
        for f in folders:
            audio, sr = load_audio(f / "music.wav")
            caption = MusicBrief.load(f / "brief.json").caption
            s = time.perf_counter()
            neural.clap_score(clap, audio, sr, caption)
            score.append(time.perf_counter() - s)
            s = time.perf_counter()
            neural.ClapEmbedder(clap).embed(audio, sr)
            embed.append(time.perf_counter() - s)
        dur = load_audio(folders[0] / "music.wav")[0].shape[0] / 48000
    print(
        f"CLAP {params:.0f} M parameters (random weights); build+save {t1 - t0:.1f} s, load {t2 - t1:.1f} s"
    )
    print("| step | median s / track | tracks | x real time |\n|---|---|---|---|")
    print(
        f"| CLAP score (audio windows + caption) | {statistics.median(score):.2f} | {len(score)} | "
        f"{dur / statistics.median(score):.0f}x |"
    )
    print(
        f"| CLAP embedding for fad[clap-…] | {statistics.median(embed):.2f} | {len(embed)} | "
        f"{dur / statistics.median(embed):.0f}x |"
    )


if __name__ == "__main__":
    main()
