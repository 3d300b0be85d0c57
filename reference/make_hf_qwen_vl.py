"""Writes a small random Qwen2.5-VL or Qwen3-VL with Hugging Face's own tools, in the layout and
config shape of the hub checkpoints (Qwen/Qwen2.5-VL-7B-Instruct, Qwen/Qwen3-VL-8B-Instruct):
the hub's tensor names and top-level config keys, the hub's chat template, a smart-resizing
image processor, and a byte-level BPE tokenizer like Qwen's own (every byte is a token, so a
random model emits byte tokens that split CJK and emoji across tokens, as a real one does).

Usage: make_hf_qwen_vl.py OUTPUT_DIR 2.5|3 [--as-saved] [--bench]

With --as-saved, the folder stays as transformers 5 saves it (its tensor names and config keys),
as a fine-tune or a converted model may come. With --bench, the model is larger (text hidden
1024 × 8 layers, vision hidden 256 × 4 layers, up to 256 image tokens), for timing.
"""

import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file
from tiny_corpus import CORPUS
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import Qwen2TokenizerFast, Qwen2VLImageProcessor, Qwen2VLVideoProcessor


# Qwen2's pre-tokenizer split (tokenizer.json of the Qwen2.5/Qwen3 checkpoints).
SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
         r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# The added tokens, in the hub's order (they follow the BPE vocabulary there too).
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
            "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
            "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]

# Qwen/Qwen2.5-VL-7B-Instruct's chat template.
TEMPLATE_2_5 = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture "
    "{{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video "
    "{{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Qwen/Qwen3-VL-8B-Instruct's chat template, without its tool-calling branches (vchat sends no
# tools): no default system prompt, and string or list content in every role.
TEMPLATE_3 = (
    "{%- set image_count = namespace(value=0) %}{%- set video_count = namespace(value=0) %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'system' or message.role == 'user' or message.role == 'assistant' %}"
    "{{- '<|im_start|>' + message.role + '\\n' }}"
    "{%- if message.content is string %}{{- message.content }}"
    "{%- else %}{%- for content in message.content %}"
    "{%- if content.type == 'image' or 'image' in content or 'image_url' in content %}"
    "{%- set image_count.value = image_count.value + 1 %}"
    "{%- if add_vision_id %}Picture {{ image_count.value }}: {% endif -%}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{%- elif content.type == 'video' or 'video' in content %}"
    "{%- set video_count.value = video_count.value + 1 %}"
    "{%- if add_vision_id %}Video {{ video_count.value }}: {% endif -%}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{%- elif 'text' in content %}{{- content.text }}{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


# --bench: the size of the LLaVA-1.5 the benchmarks use (text hidden 1024 × 8 layers).
BENCH_TEXT = dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=8, num_attention_heads=16,
                  num_key_value_heads=4)
BENCH_VISION = dict(hidden_size=256, intermediate_size=1024, num_heads=4, out_hidden_size=1024)


def make_tokenizer():
    tok = Tokenizer(models.BPE(byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    # Every byte is in the vocabulary (the byte-level alphabet); few merges, so that CJK and
    # emoji stay split across byte tokens.
    trainer = trainers.BpeTrainer(vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    fast = Qwen2TokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                              unk_token=None, bos_token=None, errors="replace")
    fast.add_special_tokens({"additional_special_tokens": SPECIALS})
    return fast


def to_hub_layout(path):
    """Qwen/Qwen2.5-VL-7B-Instruct's tensor names (`model.*`, `visual.*`, `lm_head.*`) from
    transformers 5's (`model.language_model.*`, `model.visual.*`)."""
    renamed = {}
    for name, tensor in load_file(path).items():
        if name.startswith("model.language_model."):
            name = "model." + name[len("model.language_model."):]
        elif name.startswith("model.visual."):
            name = "visual." + name[len("model.visual."):]
        renamed[name] = tensor.contiguous()
    save_file(renamed, path, metadata={"format": "pt"})


def with_hub_config_keys(out, text_at_top_level):
    """Adds the keys the hub's config.json has and transformers 5 no longer writes: `rope_theta`
    and `rope_scaling` (Qwen2.5-VL: with all text keys at the top level)."""
    path = os.path.join(out, "config.json")
    with open(path) as f:
        config = json.load(f)
    text = config["text_config"]
    rope = text.get("rope_parameters") or {}
    text["rope_theta"] = rope.get("rope_theta", text.get("rope_theta"))
    text["rope_scaling"] = {key: value for key, value in rope.items() if key != "rope_theta"}
    if text_at_top_level:
        text["rope_scaling"]["type"] = "mrope"
        for key, value in text.items():
            if key not in ("model_type", "architectures"):
                config.setdefault(key, value)
    with open(path, "w") as f:
        json.dump(config, f, indent=2)


def main():
    out, version = sys.argv[1], sys.argv[2]
    as_saved = "--as-saved" in sys.argv[3:]
    bench = "--bench" in sys.argv[3:]
    torch.manual_seed(13)
    tokenizer = make_tokenizer()
    vocab = len(tokenizer)
    ids = {name: tokenizer.convert_tokens_to_ids(name) for name in SPECIALS}
    common_ids = dict(
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )
    text = dict(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                rms_norm_eps=1e-6, hidden_act="silu", bos_token_id=ids["<|endoftext|>"],
                eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"])
    if version == "2.5":
        from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration,
                                  Qwen2_5_VLProcessor)
        # head_dim 16: the M-RoPE sections (temporal, height, width) sum to 8 = head_dim / 2.
        text.update(rope_parameters={"rope_type": "default", "rope_theta": 1000000.0,
                                     "mrope_section": [2, 3, 3]},
                    use_sliding_window=False, sliding_window=4096, max_window_layers=3)
        vision = dict(depth=4, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                      patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=56,
                      fullatt_block_indexes=[1, 3], tokens_per_second=2, hidden_act="silu")
        config_class, video_processor_class = Qwen2_5_VLConfig, Qwen2VLVideoProcessor
        model_class, processor_class, template, patch = \
            Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor, TEMPLATE_2_5, 14
    elif version == "3":
        from transformers import (Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor,
                                  Qwen3VLVideoProcessor)
        text.update(head_dim=16, rope_parameters={"rope_type": "default", "rope_theta": 5000000.0,
                                                  "mrope_section": [2, 3, 3], "mrope_interleaved": True})
        vision = dict(depth=4, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                      patch_size=16, spatial_merge_size=2, temporal_patch_size=2,
                      num_position_embeddings=64, deepstack_visual_indexes=[1, 2],
                      hidden_act="gelu_pytorch_tanh")
        config_class, video_processor_class = Qwen3VLConfig, Qwen3VLVideoProcessor
        model_class, processor_class, template, patch = \
            Qwen3VLForConditionalGeneration, Qwen3VLProcessor, TEMPLATE_3, 16
    else:
        sys.exit("version: 2.5 or 3")
    if bench:
        # head_dim 64: the M-RoPE sections sum to 32.
        text.update(BENCH_TEXT, head_dim=64,
                    rope_parameters={**text["rope_parameters"], "mrope_section": [8, 12, 12]})
        vision.update(BENCH_VISION)
    config = config_class(text_config=text, vision_config=vision, tie_word_embeddings=False, **common_ids)
    config.architectures = [model_class.__name__]

    model = model_class(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.fill_(1.0)
            elif "norm" in name or name.endswith("bias"):
                p.fill_(0.0)
            elif "embed_tokens" in name:
                p.normal_(0.0, 0.02)
            else:
                p.normal_(0.0, 0.3)
    model.save_pretrained(out, safe_serialization=True)
    # The hub's processor settings, except fewer pixels (max 256 patches): the images are still
    # resized by the processor's own rule (dimensions to multiples of patch × merge).
    merge = patch * 2
    image_processor = Qwen2VLImageProcessor(
        min_pixels=4 * merge * merge, max_pixels=(256 if bench else 64) * merge * merge, patch_size=patch,
        merge_size=2, temporal_patch_size=2,
        image_mean=[0.48145466, 0.4578275, 0.40821073] if version == "2.5" else [0.5] * 3,
        image_std=[0.26862954, 0.26130258, 0.27577711] if version == "2.5" else [0.5] * 3,
    )
    processor = processor_class(image_processor=image_processor, tokenizer=tokenizer,
                                video_processor=video_processor_class(), chat_template=template)
    processor.save_pretrained(out)
    image_processor.save_pretrained(out)
    if as_saved:
        return
    if version == "2.5":
        to_hub_layout(os.path.join(out, "model.safetensors"))
    with_hub_config_keys(out, text_at_top_level=(version == "2.5"))


if __name__ == "__main__":
    main()
