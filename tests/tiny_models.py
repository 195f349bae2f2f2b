"""Tiny random models built from transformers' config classes and saved with ``save_pretrained``.

Tests load them back through weavewave's own loaders, so the real loading code is exercised without
downloading anything. Random weights make noise: tests assert plumbing, shapes and conditioning, never
what the music sounds like.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread, and the test machines are shared. Import it into a test
    module (``from tiny_models import one_torch_thread``) and it applies to that module."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# Words the tiny T5 tokenizer knows: enough for weavewave's captions to tokenize into more than <unk>.
CAPTION_WORDS = (
    "a an the and with in at of to piece music song calm happy sad dark bright warm gentle "
    "energetic tense driving melancholic joyful balanced reflective lo-fi lofi hip hop pop rock "
    "jazz electronic ambient classical folk cinematic piano strings drums bass guitar pad "
    "major minor dorian bpm energy section theme introduction returns bridge outro intro "
    "main contrasting lifts winds down final cadence mood medium low high peak very"
).split()
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>"
    "{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
# Qwen2-Audio's way: each audio becomes <|audio_bos|> <|AUDIO|> <|audio_eos|>, and the processor repeats
# <|AUDIO|> once per encoder frame.
AUDIO_TOKENS = {
    "audio_token": "<|AUDIO|>",
    "audio_bos_token": "<|audio_bos|>",
    "audio_eos_token": "<|audio_eos|>",
}
AUDIO_CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>"
    "{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for c in m['content'] %}{% if c['type'] == 'audio' %}<|audio_bos|><|AUDIO|><|audio_eos|>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
CORPUS = [
    '{"caption": "a calm lo-fi piece with soft piano", "genre": "lofi", "mood": ["calm", "warm"], '
    '"tempo_bpm": [70, 90], "instruments": ["piano", "bass"], "energy": 0.3}',
    "Describe the music that fits this photo. Answer with JSON only. A sunrise over a quiet sea.",
    "rewrite the brief: make it more energetic, a christmas carol, jazz, sad, happy, faster, slower",
] + [" ".join(CAPTION_WORDS)]


def build_t5_tokenizer():
    from transformers import T5Tokenizer

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [("\u2581" + w, -1.0) for w in CAPTION_WORDS]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def build_musicgen(folder: Path, *, melody: bool = False, stereo: bool = False) -> Path:
    """A MusicGen (or MusicGen-Melody) with 4 codebooks of 64 codes at 32 kHz and a 50 Hz frame rate.

    ``stereo``: as facebook/musicgen-stereo-*, a mono codec and a decoder with ``audio_channels=2`` and 8
    codebooks, left and right interleaved.
    """
    import torch
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenMelodyConfig,
        MusicgenMelodyDecoderConfig,
        MusicgenMelodyForConditionalGeneration,
        T5Config,
    )

    tokenizer = build_t5_tokenizer()
    t5 = T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4)
    codec = EncodecConfig(
        sampling_rate=32000,
        hidden_size=16,
        num_filters=4,
        codebook_size=64,
        codebook_dim=16,
        upsampling_ratios=[8, 5, 4, 4],
        target_bandwidths=[1.2],
        num_lstm_layers=1,
    )
    dec_kw = dict(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        ffn_dim=64,
        num_codebooks=8 if stereo else 4,
        audio_channels=2 if stereo else 1,
        pad_token_id=64,
        bos_token_id=64,
        max_position_embeddings=512,
    )
    torch.manual_seed(0)
    if melody:
        cfg = MusicgenMelodyConfig(
            text_encoder=t5.to_dict(),
            audio_encoder=codec.to_dict(),
            decoder=MusicgenMelodyDecoderConfig(**dec_kw).to_dict(),
            num_chroma=12,
            chroma_length=235,
        )
        model = MusicgenMelodyForConditionalGeneration(cfg)
    else:
        cfg = MusicgenConfig(
            text_encoder=t5.to_dict(),
            audio_encoder=codec.to_dict(),
            decoder=MusicgenDecoderConfig(**dec_kw).to_dict(),
        )
        model = MusicgenForConditionalGeneration(cfg)
    # EnCodec's codebooks start as zeros (real ones come from the checkpoint): without this every code
    # would decode to the same sound
    for layer in model.audio_encoder.quantizer.layers:
        layer.codebook.embed.normal_()
        layer.codebook.embed_avg.copy_(layer.codebook.embed)
    if melody:
        # The chroma projection starts so small that every melody draws the same codes as no melody at all
        # (measured: a logit change of 0.03), so a test could not tell a melody that is used from one that
        # is silently ignored (transformers issue 45647). A trained projection matters; make this one too.
        model.audio_enc_to_dec_proj.weight.data.normal_(0.0, 1.0)
    model.generation_config.decoder_start_token_id = 64
    model.generation_config.pad_token_id = 64
    model.generation_config.bos_token_id = 64
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_bpe_tokenizer(extra_special: tuple[str, ...] = (), named: dict[str, str] | None = None):
    """A byte-level BPE tokenizer trained in memory on a few sentences: it encodes and decodes any text.

    ``named`` special tokens become tokenizer attributes (``tokenizer.audio_token``), as processors expect.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = [
        "<pad>",
        "<s>",
        "</s>",
        "<unk>",
        "<|user|>",
        "<|system|>",
        "<|assistant|>",
        "<|end|>",
        *extra_special,
        *(named or {}).values(),
    ]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS * 4, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="<|end|>",
        pad_token="<pad>",
        chat_template=CHAT_TEMPLATE,
        **({"extra_special_tokens": named} if named else {}),
    )
    if extra_special:
        fast.add_special_tokens({"additional_special_tokens": list(extra_special)})
    return fast


def build_chat_llm(folder: Path) -> Path:
    """A two-layer Llama-architecture chat model with a chat template (the refiner's kind of model)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_bpe_tokenizer()
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_vision_chat(folder: Path) -> Path:
    """A LLaVA-architecture vision-language chat model (CLIP vision tower, Llama text model)."""
    import torch
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil

    tokenizer = build_bpe_tokenizer(("<image>",))
    image_processor = LlavaImageProcessorPil(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
        patch_size=16,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
    )
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=16,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    cfg = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        projector_hidden_act="gelu",
        vision_feature_layer=-1,
    )
    torch.manual_seed(0)
    LlavaForConditionalGeneration(cfg).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_audio_chat(folder: Path) -> Path:
    """A Qwen2-Audio-architecture audio-language chat model: a two-layer Whisper-style encoder (32 mel
    bins, 16 kHz, 30 s window) feeding a two-layer Qwen2 text model.

    Qwen2-Audio, not Qwen2.5-Omni: Omni's processor includes a video processor, which needs torchvision.
    """
    import torch
    from transformers import (
        Qwen2AudioConfig,
        Qwen2AudioForConditionalGeneration,
        Qwen2AudioProcessor,
        WhisperFeatureExtractor,
    )

    tokenizer = build_bpe_tokenizer(named=AUDIO_TOKENS)
    extractor = WhisperFeatureExtractor(feature_size=32, sampling_rate=16000, chunk_length=30)
    processor = Qwen2AudioProcessor(
        feature_extractor=extractor, tokenizer=tokenizer, chat_template=AUDIO_CHAT_TEMPLATE
    )
    encoder = dict(
        num_mel_bins=32, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=64, d_model=32
    )
    text = dict(
        model_type="qwen2",
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    cfg = Qwen2AudioConfig(
        audio_config=encoder,
        text_config=text,
        audio_token_index=tokenizer.convert_tokens_to_ids(AUDIO_TOKENS["audio_token"]),
    )
    torch.manual_seed(0)
    Qwen2AudioForConditionalGeneration(cfg).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_clap(folder: Path) -> Path:
    """A tiny ``ClapModel`` + ``ClapProcessor`` (byte-level RoBERTa tokenizer, 16-dimensional shared space)."""
    from tokenizers import pre_tokenizers
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapProcessor,
        ClapTextConfig,
        RobertaTokenizer,
    )

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for c in sorted(pre_tokenizers.ByteLevel.alphabet()):  # byte-level BPE's stand-ins for the 256 bytes
        vocab.setdefault(c, len(vocab))
    vocab["<mask>"] = len(vocab)
    tokenizer = RobertaTokenizer(vocab=vocab, merges=[])
    audio_cfg = ClapAudioConfig(
        hidden_size=32,
        patch_embeds_hidden_size=16,
        depths=[1, 1],
        num_attention_heads=[2, 2],
        window_size=4,
        spec_size=256,
        num_mel_bins=64,
        patch_size=16,
        patch_stride=[16, 16],
        enable_fusion=False,
        projection_dim=16,
    )
    text_cfg = ClapTextConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=80,
        projection_dim=16,
    )
    model = ClapModel(
        ClapConfig(text_config=text_cfg.to_dict(), audio_config=audio_cfg.to_dict(), projection_dim=16)
    )
    processor = ClapProcessor(
        feature_extractor=ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad"),
        tokenizer=tokenizer,
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_clip(folder: Path) -> Path:
    """A tiny ``CLIPModel`` + ``CLIPProcessor`` (byte-level BPE tokenizer, 32-pixel images, 16-dimensional space)."""
    from tokenizers import pre_tokenizers
    from transformers import (
        CLIPConfig,
        CLIPImageProcessorPil,
        CLIPModel,
        CLIPProcessor,
        CLIPTextConfig,
        CLIPTokenizer,
        CLIPVisionConfig,
    )

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    text_cfg = CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1,
    )  # fmt: skip
    vision_cfg = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=32, patch_size=8
    )  # fmt: skip
    model = CLIPModel(
        CLIPConfig(text_config=text_cfg.to_dict(), vision_config=vision_cfg.to_dict(), projection_dim=16)
    )
    images = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    model.save_pretrained(folder)
    CLIPProcessor(image_processor=images, tokenizer=CLIPTokenizer(vocab=vocab, merges=[])).save_pretrained(
        folder
    )
    return folder
