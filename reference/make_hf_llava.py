"""Writes a small random LLaVA-1.5 with Hugging Face's own tools (`save_pretrained`), sizes and
a tokenizer unlike vchat's generator: a model folder vchat did not make, for the tests.

Usage: make_hf_llava.py OUTPUT_DIR
"""

import sys

import os

import torch
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    CLIPImageProcessor,
    CLIPVisionConfig,
    LlamaConfig,
    LlamaTokenizerFast,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
)

CORPUS = [
    "What is shown in this image? Describe the picture in detail.",
    "The photo shows a red car parked next to a green tree under a blue sky.",
    "A cat sits on a wooden table; a dog sleeps on the floor by the window.",
    "How many people are there, and what are they doing in the background?",
] * 50

TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}"
    "{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)


def make_tokenizer():
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Replace(" ", "▁")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=sorted(set("".join(CORPUS).replace(" ", "▁") + "ABCDEFGHIJKLMNOPQRSTUVWXYZ:\n")),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    fast = LlamaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                              add_bos_token=True, add_eos_token=False, legacy=False)
    fast.add_special_tokens({"additional_special_tokens": ["<image>"], "pad_token": "<pad>"})
    return fast


def main():
    out = sys.argv[1]
    torch.manual_seed(7)
    tokenizer = make_tokenizer()
    vocab = len(tokenizer)
    text = LlamaConfig(hidden_size=80, intermediate_size=144, num_hidden_layers=3, num_attention_heads=5,
                       num_key_value_heads=5, vocab_size=vocab, max_position_embeddings=2048,
                       rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2)
    vision = CLIPVisionConfig(hidden_size=40, intermediate_size=72, num_hidden_layers=3, num_attention_heads=4,
                              image_size=336, patch_size=14, projection_dim=80, hidden_act="quick_gelu")
    config = LlavaConfig(vision_config=vision, text_config=text,
                         image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                         projector_hidden_act="gelu", vision_feature_layer=-2,
                         vision_feature_select_strategy="default", image_seq_length=576)
    config.architectures = ["LlavaForConditionalGeneration"]
    model = LlavaForConditionalGeneration(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                # As in a trained model: unit scale, zero shift.
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            else:
                p.normal_(0.0, 0.05)
    model.save_pretrained(out, safe_serialization=True)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=14,
                               num_additional_image_tokens=1,
                               vision_feature_select_strategy="default", chat_template=TEMPLATE)
    processor.save_pretrained(out)
    # The layout of the checkpoints published as llava-hf/*: transformers 5 saves its own module
    # names, which mistral.rs 0.8.1 does not read; and a separate preprocessor_config.json.
    image_processor.save_pretrained(out)
    to_hub_layout(os.path.join(out, "model.safetensors"))


def to_hub_layout(path):
    renamed = {}
    for name, tensor in load_file(path).items():
        if name.startswith("model.language_model."):
            name = "language_model.model." + name[len("model.language_model."):]
        elif name == "lm_head.weight":
            name = "language_model.lm_head.weight"
        elif name.startswith("model."):
            name = name[len("model."):]
        if name.startswith("vision_tower.") and not name.startswith("vision_tower.vision_model."):
            name = "vision_tower.vision_model." + name[len("vision_tower."):]
        renamed[name] = tensor.contiguous()
    save_file(renamed, path, metadata={"format": "pt"})


if __name__ == "__main__":
    main()
