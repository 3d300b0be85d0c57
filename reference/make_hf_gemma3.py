"""Writes a small random Gemma 3 (vision) with Hugging Face's own tools, in the layout and config
shape of google/gemma-3-4b-it: Gemma 3 text + SigLIP vision, the hub's tensor names, gemma-3's
chat template, and a BPE tokenizer with byte fallback (so a random model emits byte tokens and
multi-byte UTF-8, as a real one does with emoji and CJK).

Usage: make_hf_gemma3.py OUTPUT_DIR [--bench]

With --bench, the model is larger (text hidden 1024 × 8 layers, vision hidden 256 × 4 layers,
256 image tokens and a sliding window of 1,024 as the real model has), for timing. The small
model's window is 64, so that its prompts pass it (what the conformance test checks).
"""

import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file
from tiny_corpus import CORPUS
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import (
    Gemma3Config,
    Gemma3ForConditionalGeneration,
    Gemma3ImageProcessor,
    Gemma3Processor,
    Gemma3TextConfig,
    GemmaTokenizerFast,
    SiglipVisionConfig,
)


# google/gemma-3-4b-it's chat template.
TEMPLATE = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\\n'}}\n"
    "{%- endif -%}\n"
)

SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>",
            "<start_of_image>", "<end_of_image>", "<image_soft_token>"]


def with_byte_tokens(tok):
    """The trained tokenizer with <0x00>…<0xFF> as ordinary vocabulary entries right after the
    special tokens, as in Gemma's and Llama's tokenizers (byte fallback needs them)."""
    spec = json.loads(tok.to_str())
    vocab = spec["model"]["vocab"]
    ordered = sorted(vocab, key=vocab.get)
    specials, rest = ordered[: len(SPECIALS)], ordered[len(SPECIALS):]
    names = specials + [f"<0x{b:02X}>" for b in range(256)] + rest
    spec["model"]["vocab"] = {name: index for index, name in enumerate(names)}
    for added in spec["added_tokens"]:
        added["id"] = spec["model"]["vocab"][added["content"]]
    return Tokenizer.from_str(json.dumps(spec))


def make_tokenizer():
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.pre_tokenizer = pre_tokenizers.Split(" ", "merged_with_previous")
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    # Byte tokens <0x00>…<0xFF> make byte fallback possible; the alphabet leaves out the
    # multi-byte characters, so that CJK and emoji are written as bytes.
    trainer = trainers.BpeTrainer(
        vocab_size=640,
        special_tokens=SPECIALS,
        initial_alphabet=sorted(set("".join(CORPUS[:4]).replace(" ", "▁") + "ABCDEFGHIJKLMNOPQRSTUVWXYZ:\n")),
        limit_alphabet=80,
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    tok = with_byte_tokens(tok)
    # The named tokens Gemma3Processor reads from the tokenizer, as google/gemma-3-4b-it has them.
    fast = GemmaTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", unk_token="<unk>",
                              pad_token="<pad>", add_bos_token=True, add_eos_token=False,
                              extra_special_tokens={"boi_token": "<start_of_image>",
                                                    "eoi_token": "<end_of_image>",
                                                    "image_token": "<image_soft_token>"})
    fast.add_special_tokens({"additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"]})
    return fast


def main():
    out = sys.argv[1]
    bench = "--bench" in sys.argv[2:]
    torch.manual_seed(11)
    tokenizer = make_tokenizer()
    vocab = len(tokenizer)
    sizes = (dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=8, num_attention_heads=16,
                  num_key_value_heads=4, head_dim=64, query_pre_attn_scalar=64) if bench else
             dict(hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=16))
    text = Gemma3TextConfig(
        vocab_size=vocab, **sizes,
        max_position_embeddings=4096, sliding_window=1024 if bench else 64, sliding_window_pattern=2,
        rope_theta=1000000.0, rope_local_base_freq=10000.0, rms_norm_eps=1e-6,
        final_logit_softcapping=None, attn_logit_softcapping=None,
        pad_token_id=0, eos_token_id=1, bos_token_id=2,
    )
    vision = SiglipVisionConfig(hidden_size=256 if bench else 32, intermediate_size=1024 if bench else 64,
                                num_hidden_layers=4 if bench else 2,
                                num_attention_heads=4, image_size=224, patch_size=14,
                                vision_use_head=False, layer_norm_eps=1e-6)
    image_tokens = 256 if bench else 16
    config = Gemma3Config(
        text_config=text, vision_config=vision, mm_tokens_per_image=image_tokens,
        boi_token_index=tokenizer.convert_tokens_to_ids("<start_of_image>"),
        eoi_token_index=tokenizer.convert_tokens_to_ids("<end_of_image>"),
        image_token_index=tokenizer.convert_tokens_to_ids("<image_soft_token>"),
    )
    config.architectures = ["Gemma3ForConditionalGeneration"]
    model = Gemma3ForConditionalGeneration(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                # Gemma's RMS norms scale by (1 + weight): zero is the unit scale.
                p.fill_(0.0)
            elif "embed_tokens" in name:
                # Small next to what the layers add: otherwise the tied output head mostly
                # repeats the last input token, and every answer is one token over and over.
                p.normal_(0.0, 0.02)
            else:
                p.normal_(0.0, 0.3)
    model.save_pretrained(out, safe_serialization=True)
    image_processor = Gemma3ImageProcessor(size={"height": 224, "width": 224}, image_mean=[0.5] * 3,
                                           image_std=[0.5] * 3, do_pan_and_scan=False)
    processor = Gemma3Processor(image_processor=image_processor, tokenizer=tokenizer,
                                chat_template=TEMPLATE, image_seq_length=image_tokens)
    processor.save_pretrained(out)
    image_processor.save_pretrained(out)
    to_hub_layout(os.path.join(out, "model.safetensors"))


def to_hub_layout(path):
    """google/gemma-3-4b-it's tensor names (what mistral.rs reads), from transformers 5's."""
    renamed = {}
    for name, tensor in load_file(path).items():
        if name.startswith("model.language_model."):
            name = "language_model.model." + name[len("model.language_model."):]
        elif name == "lm_head.weight":
            continue  # tied to the embeddings, as in the hub checkpoint
        elif name.startswith("model."):
            name = name[len("model."):]
        if name.startswith("vision_tower.") and not name.startswith("vision_tower.vision_model."):
            name = "vision_tower.vision_model." + name[len("vision_tower."):]
        renamed[name] = tensor.contiguous()
    save_file(renamed, path, metadata={"format": "pt"})


if __name__ == "__main__":
    main()
