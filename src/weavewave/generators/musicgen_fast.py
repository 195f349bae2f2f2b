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

With greedy decoding it returns the same codes as ``model.generate`` (checked in the tests and in
``bench/musicgen_speed.py``). Plain MusicGen only (text conditioning, no audio prompt).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class FastMusicgen:
    """Greedy or top-k decoding of MusicGen codes with a static cache and batched guidance.

    Parameters
    ----------
    model : MusicgenForConditionalGeneration
    static_shapes : attend over the whole cache with a mask, so every step has the same shapes (needed for
        CUDA graphs); on CPUs slicing the cache to the current length is faster.
    compile : wrap the step in ``torch.compile`` (``reduce-overhead`` on CUDA: CUDA graphs).
    """

    def __init__(self, model: Any, *, static_shapes: bool = False, compile: bool = False) -> None:
        import torch

        self.model = model
        causal = model.decoder
        self.decoder = causal.model.decoder
        self.heads = causal.lm_heads
        cfg = causal.config
        self.num_codebooks = int(cfg.num_codebooks)
        self.pad = int(model.generation_config.decoder_start_token_id
                       if model.generation_config.decoder_start_token_id is not None else cfg.pad_token_id)
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
        if (m.text_encoder.config.hidden_size != m.decoder.config.hidden_size
                and m.decoder.config.cross_attention_hidden_size is None):
            enc = m.enc_to_dec_proj(enc)
        enc = enc * mask[..., None]
        additive = (1.0 - mask[:, None, None, :].to(enc.dtype)) * torch.finfo(enc.dtype).min
        return enc, additive

    def _prepare(self, enc: Any, cross_mask: Any, max_len: int) -> None:
        import torch

        n = enc.shape[0]
        layers = self.decoder.layers
        shape = (len(layers), n, self.num_heads, max_len, self.head_dim)
        self.k_cache = torch.zeros(shape, dtype=enc.dtype, device=enc.device)
        self.v_cache = torch.zeros(shape, dtype=enc.dtype, device=enc.device)
        split = (n, -1, self.num_heads, self.head_dim)
        self.cross_k = [layer.encoder_attn.k_proj(enc).view(split).transpose(1, 2) for layer in layers]
        self.cross_v = [layer.encoder_attn.v_proj(enc).view(split).transpose(1, 2) for layer in layers]
        self.cross_mask = cross_mask
        self.positions = self.decoder.embed_positions.weights.to(enc.dtype)
        if self.positions.shape[0] < max_len:
            self.decoder.embed_positions.make_weights(max_len, self.decoder.embed_positions.embedding_dim)
            self.positions = self.decoder.embed_positions.weights.to(enc.dtype)
        self.arange = torch.arange(max_len, device=enc.device)

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
            ca = layer.encoder_attn
            h = layer.encoder_attn_layer_norm(x)
            q = ca.q_proj(h).view(split).transpose(1, 2)
            a = F.scaled_dot_product_attention(q, self.cross_k[i], self.cross_v[i], attn_mask=self.cross_mask)
            x = x + ca.out_proj(a.transpose(1, 2).reshape(n, 1, -1))
            h = layer.final_layer_norm(x)
            x = x + layer.fc2(layer.activation_fn(layer.fc1(h)))
        x = dec.layer_norm(x)
        return torch.stack([head(x[:, 0]) for head in self.heads], dim=1)

    # --------------------------------------------------------------------------------------------------
    def generate_codes(self, input_ids: Any, attention_mask: Any, frames: int, *, guidance_scale: float = 3.0,
                       greedy: bool = True, top_k: int = 250, temperature: float = 1.0,
                       generator: Any = None) -> Any:
        """Codes [shape=(batch, num_codebooks, frames)] for the tokenized captions."""
        import torch

        with torch.inference_mode():
            guidance = guidance_scale is not None and guidance_scale > 1
            enc, cross_mask = self._encode(input_ids, attention_mask, guidance)
            b, k_books = input_ids.shape[0], self.num_codebooks
            steps = frames + k_books - 1
            self._prepare(enc, cross_mask, steps + 1)
            grid = torch.full((b, k_books, steps + 1), self.pad, dtype=torch.long, device=input_ids.device)
            books = torch.arange(k_books, device=input_ids.device)
            for p in range(steps):
                tokens = grid[:, :, p]
                if guidance:
                    tokens = tokens.repeat(2, 1)
                logits = self.step(tokens, torch.tensor(p, device=input_ids.device)).float()
                if guidance:
                    cond, uncond = logits[:b], logits[b:]
                    logits = uncond + (cond - uncond) * guidance_scale
                if greedy:
                    nxt = logits.argmax(-1)
                else:
                    logits = logits / temperature
                    if top_k:
                        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
                        logits = logits.masked_fill(logits < kth, float("-inf"))
                    probs = torch.softmax(logits, dim=-1).view(-1, logits.shape[-1])
                    nxt = torch.multinomial(probs, 1, generator=generator).view(b, k_books)
                j = p + 1  # the position just predicted: codebook k holds frame j - 1 - k there
                frame = j - 1 - books
                forced = (frame < 0) | (frame >= frames)
                grid[:, :, j] = torch.where(forced, torch.full_like(nxt, self.pad), nxt)
            return torch.stack([grid[:, k, k + 1: k + 1 + frames] for k in range(k_books)], dim=1)

    def generate_audio(self, input_ids: Any, attention_mask: Any, frames: int, **kwargs: Any) -> Any:
        """Decoded audio [shape=(batch, channels, samples)] (mono models)."""
        import torch

        codes = self.generate_codes(input_ids, attention_mask, frames, **kwargs)
        with torch.inference_mode():
            return self.model.audio_encoder.decode(codes[None], [None]).audio_values
