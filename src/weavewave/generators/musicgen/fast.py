"""A faster decoding loop for MusicGen, on the model's own weights.

Stock ``model.generate`` spends much of each step outside the matrix products: it grows a dynamic KV
cache by concatenation, re-projects the text encoder states for cross-attention through the cache
machinery, rebuilds attention masks, applies the delay pattern and a chain of logits processors in Python,
and runs the conditional and unconditional (classifier-free guidance) halves as separately prepared
inputs. This loop keeps the arithmetic of the model exactly (same weights, same layer order, same
guidance formula, same delay pattern) and removes the rest:

- a static KV cache, allocated once for the whole piece, written in place;
- the cross-attention keys and values of the text computed once, before the first step;
- guidance batched: the conditional and unconditional rows go through one forward pass;
- the delay pattern applied by index arithmetic;
- optionally fixed shapes (attention over the whole static cache with a position mask), so the step can be
  captured by ``torch.compile(mode="reduce-overhead")`` as a CUDA graph on GPUs.

It covers what the ``musicgen`` backend asks of ``generate``:

- MusicGen (text through cross-attention) and MusicGen-Melody (chroma and text prepended to the decoder's
  sequence as a prefix, which is run once through the layers into the cache);
- an audio prompt given as codes (continuation windows): the prompt is run through the layers in one pass
  and its codes are forced in the delay pattern, as ``generate`` does;
- greedy decoding and sampling with ``generate``'s processing order: guidance on the raw logits, then
  temperature, top-k, top-p, softmax, one multinomial draw per step over all rows. Drawing from the same
  random state, it draws the same codes as ``generate`` (checked in the tests).

Mono and stereo models alike. Stereo MusicGen (``audio_channels=2``) has twice the codebooks, left and
right interleaved (``L0 R0 L1 R1 ...``), and delays each channel's codebooks as a mono model would: the
pair ``2j, 2j + 1`` is delayed by ``j`` steps, so a stereo piece takes ``num_codebooks / 2 - 1`` steps
past its last frame, not ``num_codebooks - 1``. The two channels' codes are decoded by EnCodec one
channel at a time, as ``generate`` does.

With greedy decoding it returns the same codes as ``model.generate`` (checked in the tests and in
``bench/musicgen_speed.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


class FastMusicgen:
    """Greedy or sampled decoding of MusicGen codes with a static cache and batched guidance.

    Parameters
    ----------
    model : MusicgenForConditionalGeneration or MusicgenMelodyForConditionalGeneration
    static_shapes : attend over the whole cache with a mask, so every step has the same shapes (needed for
        CUDA graphs); on CPUs slicing the cache to the current length is faster.
    compile : wrap the step in ``torch.compile`` (``reduce-overhead`` on CUDA: CUDA graphs).
    """

    def __init__(self, model: Any, *, static_shapes: bool = False, compile: bool = False) -> None:
        import torch

        if not supports(model):
            raise ValueError("the fast MusicGen loop handles mono and stereo models only; use model.generate")
        self.model = model
        causal = model.decoder
        self.decoder = causal.model.decoder
        self.heads = causal.lm_heads
        cfg = causal.config
        self.melody = is_melody(model)
        self.num_codebooks = int(cfg.num_codebooks)
        self.channels = audio_channels(model)
        # codebook k is delayed by delays[k] steps: k for mono, k // 2 for stereo (left/right interleaved)
        self.delays = [k // self.channels for k in range(self.num_codebooks)]
        self.pad = int(
            model.generation_config.decoder_start_token_id
            if model.generation_config.decoder_start_token_id is not None
            else cfg.pad_token_id
        )
        self.num_heads = int(cfg.num_attention_heads)
        self.head_dim = int(cfg.hidden_size) // self.num_heads
        self.static_shapes = static_shapes
        step: Callable[..., Any] = self._step
        if compile:
            mode = "reduce-overhead" if next(model.parameters()).is_cuda else "default"
            step = torch.compile(self._step, mode=mode, fullgraph=False, dynamic=False)
        self.step = step

    # --------------------------------------------------------------------------------------------------
    def _encode(self, input_ids: Any, attention_mask: Any, guidance: bool) -> tuple[Any, Any]:
        """Text encoder states projected for the decoder, with the guidance rows, and an additive mask."""
        import torch

        m = self.model
        enc = m.text_encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask
        if guidance:
            enc = torch.cat([enc, torch.zeros_like(enc)], dim=0)
            mask = torch.cat([mask, torch.zeros_like(mask)], dim=0)
        if self.melody:
            if m.text_encoder.config.hidden_size != m.decoder.config.hidden_size:
                enc = m.enc_to_dec_proj(enc)
        elif (
            m.text_encoder.config.hidden_size != m.decoder.config.hidden_size
            and m.decoder.config.cross_attention_hidden_size is None
        ):
            enc = m.enc_to_dec_proj(enc)
        enc = enc * mask[..., None].to(enc.dtype)
        additive = (1.0 - mask[:, None, None, :].to(enc.dtype)) * torch.finfo(enc.dtype).min
        return enc, additive

    def _melody_prefix(self, text: Any, input_features: Any, guidance: bool) -> Any:
        """MusicGen-Melody's conditioning prefix [shape=(n, chroma_length + text, d)]: the projected chroma
        (repeated or cut to ``chroma_length``; the "null" chroma, bin 0 on, for the guidance rows and when
        none is given) followed by the text states, as ``generate`` builds it."""
        import torch

        m = self.model
        b = text.shape[0] // (2 if guidance else 1)
        if input_features is None:
            null = torch.zeros((b, 1, m.config.num_chroma), device=text.device, dtype=text.dtype)
            null[:, :, 0] = 1
            audio = null
        else:
            audio = input_features.to(text.dtype)
            null = torch.zeros_like(audio)
            null[:, :, 0] = 1
        if guidance:
            audio = torch.cat([audio, null], dim=0)
        if m.config.num_chroma != m.decoder.config.hidden_size:
            audio = m.audio_enc_to_dec_proj(audio)
        length = int(m.config.chroma_length)
        if audio.shape[1] < length:
            audio = audio.repeat(1, int(math.ceil(length / audio.shape[1])), 1)
        return torch.cat([audio[:, :length], text], dim=1)

    def _prepare(self, ref: Any, max_len: int, cross: Any = None, cross_mask: Any = None) -> None:
        import torch

        n = ref.shape[0]
        layers = self.decoder.layers
        shape = (len(layers), n, self.num_heads, max_len, self.head_dim)
        self.k_cache = torch.zeros(shape, dtype=ref.dtype, device=ref.device)
        self.v_cache = torch.zeros(shape, dtype=ref.dtype, device=ref.device)
        split = (n, -1, self.num_heads, self.head_dim)
        if cross is not None:
            self.cross_k = [layer.encoder_attn.k_proj(cross).view(split).transpose(1, 2) for layer in layers]
            self.cross_v = [layer.encoder_attn.v_proj(cross).view(split).transpose(1, 2) for layer in layers]
        self.cross_mask = cross_mask
        emb = self.decoder.embed_positions
        if emb.weights.shape[0] < max_len:
            emb.make_weights(max_len, emb.embedding_dim)
        self.positions = emb.weights.to(ref.device, ref.dtype)
        self.arange = torch.arange(max_len, device=ref.device)

    def _embed(self, tokens: Any) -> Any:
        """Summed codebook embeddings: tokens [shape=(n, K, T)] -> (n, T, d)."""
        return sum(self.decoder.embed_tokens[k](tokens[:, k]) for k in range(self.num_codebooks))

    def _prefill(self, x: Any, start: int) -> Any:
        """Run T positions [shape=(n, T, d), embeddings without positions] from ``start`` through the layers,
        causally, writing their keys and values into the cache. Returns the last position's logits."""
        import torch
        import torch.nn.functional as F

        dec = self.decoder
        n, t = x.shape[:2]
        end = start + t
        x = x + self.positions[start:end]
        split = (n, t, self.num_heads, self.head_dim)
        causal = self.arange[:end][None, :] <= self.arange[start:end][:, None]  # (T, end)
        for i, layer in enumerate(dec.layers):
            sa = layer.self_attn
            h = layer.self_attn_layer_norm(x)
            q = sa.q_proj(h).view(split).transpose(1, 2)
            self.k_cache[i, :, :, start:end] = sa.k_proj(h).view(split).transpose(1, 2)
            self.v_cache[i, :, :, start:end] = sa.v_proj(h).view(split).transpose(1, 2)
            a = F.scaled_dot_product_attention(
                q, self.k_cache[i, :, :, :end], self.v_cache[i, :, :, :end], attn_mask=causal
            )
            x = x + sa.out_proj(a.transpose(1, 2).reshape(n, t, -1))
            x = self._cross(layer, x, i)
            h = layer.final_layer_norm(x)
            x = x + layer.fc2(layer.activation_fn(layer.fc1(h)))
        x = dec.layer_norm(x[:, -1:])
        return torch.stack([head(x[:, 0]) for head in self.heads], dim=1)

    def _cross(self, layer: Any, x: Any, i: int) -> Any:
        """Cross-attention to the text (plain MusicGen; MusicGen-Melody has none)."""
        import torch.nn.functional as F

        if self.melody:
            return x
        n, t = x.shape[:2]
        ca = layer.encoder_attn
        h = layer.encoder_attn_layer_norm(x)
        q = ca.q_proj(h).view(n, t, self.num_heads, self.head_dim).transpose(1, 2)
        a = F.scaled_dot_product_attention(q, self.cross_k[i], self.cross_v[i], attn_mask=self.cross_mask)
        return x + ca.out_proj(a.transpose(1, 2).reshape(n, t, -1))

    def _step(self, tokens: Any, pos: Any) -> Any:
        """One decoder step for all rows: tokens [shape=(n, K)] at position ``pos`` -> logits (n, K, V)."""
        import torch
        import torch.nn.functional as F

        dec = self.decoder
        n = tokens.shape[0]
        x = sum(dec.embed_tokens[k](tokens[:, k]) for k in range(self.num_codebooks))
        x = (x + self.positions[pos])[:, None, :]  # (n, 1, d)
        split = (n, 1, self.num_heads, self.head_dim)
        if self.static_shapes:
            self_mask = (self.arange <= pos)[None, None, None, :]
        for i, layer in enumerate(dec.layers):
            sa = layer.self_attn
            h = layer.self_attn_layer_norm(x)
            q = sa.q_proj(h).view(split).transpose(1, 2)
            self.k_cache[i].index_copy_(2, pos.view(1), sa.k_proj(h).view(split).transpose(1, 2))
            self.v_cache[i].index_copy_(2, pos.view(1), sa.v_proj(h).view(split).transpose(1, 2))
            if self.static_shapes:
                a = F.scaled_dot_product_attention(q, self.k_cache[i], self.v_cache[i], attn_mask=self_mask)
            else:
                t = int(pos) + 1
                a = F.scaled_dot_product_attention(q, self.k_cache[i, :, :, :t], self.v_cache[i, :, :, :t])
            x = x + sa.out_proj(a.transpose(1, 2).reshape(n, 1, -1))
            x = self._cross(layer, x, i)
            h = layer.final_layer_norm(x)
            x = x + layer.fc2(layer.activation_fn(layer.fc1(h)))
        x = dec.layer_norm(x)
        return torch.stack([head(x[:, 0]) for head in self.heads], dim=1)

    # --------------------------------------------------------------------------------------------------
    def generate_codes(
        self,
        input_ids: Any,
        attention_mask: Any,
        frames: int,
        *,
        guidance_scale: float = 3.0,
        greedy: bool = True,
        top_k: int = 250,
        top_p: float = 0.0,
        temperature: float = 1.0,
        generator: Any = None,
        prompt_codes: Any = None,
        input_features: Any = None,
    ) -> Any:
        """Codes [shape=(batch, num_codebooks, prompt + frames)] for the tokenized captions.

        ``prompt_codes`` [shape=(batch, K, P)] are continued (and returned in front, as ``generate`` does);
        ``input_features`` [shape=(batch, chroma frames, 12)] is MusicGen-Melody's chroma. Sampling draws
        from ``generator``, or from torch's global random state when it is None (as ``generate`` does).
        """
        import torch

        with torch.inference_mode():
            guidance = guidance_scale is not None and guidance_scale > 1
            dev = input_ids.device
            b, k_books = input_ids.shape[0], self.num_codebooks
            prompt = 0 if prompt_codes is None else int(prompt_codes.shape[-1])
            total = prompt + frames
            steps = total + max(self.delays)
            text, cross_mask = self._encode(input_ids, attention_mask, guidance)
            prefix = self._melody_prefix(text, input_features, guidance) if self.melody else None
            offset = 0 if prefix is None else prefix.shape[1]
            if prefix is None:
                self._prepare(text, offset + steps + 1, text, cross_mask)
            else:
                self._prepare(prefix, offset + steps + 1)
            grid = torch.full((b, k_books, steps + 1), self.pad, dtype=torch.long, device=dev)
            known = torch.zeros((k_books, steps + 1), dtype=torch.bool, device=dev)
            for k, d in enumerate(self.delays):  # codebook k holds frame j - 1 - d at position j
                if prompt:
                    grid[:, k, d + 1 : d + 1 + prompt] = prompt_codes[:, k]
                known[k, : d + 1 + prompt] = True
                known[k, d + 1 + total :] = True  # past the last frame: padding
            # the prefix (melody) and the prompt positions 0..P-1 go through the layers in one pass; the loop
            # then starts at position P, whose logits give the first new frame of codebook 0
            first = prompt
            pre = [] if prefix is None else [prefix]
            if first:
                emb = self._embed(grid[:, :, :first])
                pre.append(torch.cat([emb, emb]) if guidance else emb)
            if pre:
                self._prefill(torch.cat(pre, dim=1), 0)
            for p in range(first, steps):
                tokens = grid[:, :, p]
                if guidance:
                    tokens = tokens.repeat(2, 1)
                logits = self.step(tokens, torch.tensor(offset + p, device=dev)).float()
                nxt = self._pick(
                    logits,
                    b,
                    guidance_scale if guidance else None,
                    greedy=greedy,
                    top_k=top_k,
                    top_p=top_p,
                    temperature=temperature,
                    generator=generator,
                )
                grid[:, :, p + 1] = torch.where(known[:, p + 1], grid[:, :, p + 1], nxt)
            return torch.stack([grid[:, k, d + 1 : d + 1 + total] for k, d in enumerate(self.delays)], dim=1)

    @staticmethod
    def _pick(
        logits: Any,
        b: int,
        guidance_scale: float | None,
        *,
        greedy: bool,
        top_k: int,
        top_p: float,
        temperature: float,
        generator: Any,
    ) -> Any:
        """The next codes [shape=(b, K)] from logits [shape=(n, K, V)], in ``generate``'s order: guidance,
        temperature, top-k, top-p, then one multinomial draw over the (b * K) rows."""
        import torch

        if guidance_scale is not None:
            cond, uncond = logits[:b], logits[b:]
            logits = uncond + (cond - uncond) * guidance_scale
        if greedy:
            return logits.argmax(-1)
        k_books, vocab = logits.shape[1], logits.shape[2]
        scores = logits.reshape(b * k_books, vocab)
        if temperature != 1.0:
            scores = scores / temperature
        if top_k:
            kth = torch.topk(scores, min(top_k, vocab), dim=-1).values[..., -1:]
            scores = scores.masked_fill(scores < kth, float("-inf"))
        if 0 < top_p < 1:
            ordered, order = torch.sort(scores, descending=False)
            drop = ordered.softmax(dim=-1).cumsum(dim=-1) <= (1 - top_p)
            drop[..., -1:] = False  # keep at least the likeliest
            scores = scores.masked_fill(drop.scatter(1, order, drop), float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        return torch.multinomial(probs, 1, generator=generator).view(b, k_books)

    def generate_audio(self, input_ids: Any, attention_mask: Any, frames: int, **kwargs: Any) -> Any:
        """Decoded audio [shape=(batch, channels, samples)]."""
        return self.decode(self.generate_codes(input_ids, attention_mask, frames, **kwargs))

    def decode(self, codes: Any) -> Any:
        """Codes [shape=(batch, K, frames)] -> audio [shape=(batch, channels, samples)]. A stereo model's
        codec is mono: its left (even) and right (odd) codebooks are decoded apart, as ``generate`` does."""
        import torch

        codec = self.model.audio_encoder
        scales = [None] * codes.shape[0]
        with torch.inference_mode():
            if self.channels == 1:
                return codec.decode(codes[None], scales).audio_values
            sides = [codec.decode(codes[None, :, c::2], scales).audio_values for c in range(self.channels)]
            return torch.cat(sides, dim=1)


def is_melody(model: Any) -> bool:
    """MusicGen-Melody conditions by a prefix, not by cross-attention."""
    return getattr(model.config, "model_type", "") == "musicgen_melody"


def audio_channels(model: Any) -> int:
    """1 (mono) or 2 (stereo: left and right codebooks interleaved)."""
    return int(getattr(model.decoder.config, "audio_channels", 1))


def supports(model: Any) -> bool:
    """Whether this loop can decode for ``model``: MusicGen or MusicGen-Melody, mono or stereo (the only
    layouts transformers defines)."""
    channels = audio_channels(model)
    return channels in (1, 2) and int(model.decoder.config.num_codebooks) % channels == 0
