"""Splits a llava-hf LLaVA-1.5 checkpoint the way llama.cpp's converters read it: a CLIP vision
model folder (vision_tower.* weights, renamed) and a llava.projector file for the legacy LLaVA
converter, and a text folder for convert_hf_to_gguf.py whose tokenizer lists every id of the
padded vocabulary (as the real LLaVA-1.5's does): the converter takes the vocabulary's size from
the tokenizer, and llama.cpp refuses embeddings with more rows than that.

Usage: split_llava.py MODEL_DIR OUT_DIR
"""

import json
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file


def main():
    model, out = sys.argv[1], sys.argv[2]
    clip = os.path.join(out, "clip")
    os.makedirs(clip, exist_ok=True)
    weights = load_file(os.path.join(model, "model.safetensors"))
    vision = {k.removeprefix("vision_tower."): v.contiguous()
              for k, v in weights.items() if k.startswith("vision_tower.")}
    save_file(vision, os.path.join(clip, "model.safetensors"), metadata={"format": "pt"})
    projector = {k: v for k, v in weights.items() if k.startswith("multi_modal_projector.")}
    torch.save(projector, os.path.join(out, "llava.projector"))

    config = json.load(open(os.path.join(model, "config.json")))
    vision_config = dict(config["vision_config"], architectures=["CLIPVisionModel"])
    json.dump(vision_config, open(os.path.join(clip, "config.json"), "w"))
    text = os.path.join(out, "text")
    os.makedirs(text, exist_ok=True)
    for name in os.listdir(model):
        if name.endswith(".json") and name != "tokenizer.json":
            shutil.copy(os.path.join(model, name), text)
    target = os.path.join(text, "model.safetensors")
    if not os.path.exists(target):
        os.symlink(os.path.abspath(os.path.join(model, "model.safetensors")), target)
    tokenizer = json.load(open(os.path.join(model, "tokenizer.json")))
    taken = set(tokenizer["model"]["vocab"].values()) | {t["id"] for t in tokenizer["added_tokens"]}
    for index in range(config["vocab_size"]):
        if index not in taken:
            tokenizer["added_tokens"].append({
                "id": index, "content": f"<pad_{index}>", "single_word": False, "lstrip": False,
                "rstrip": False, "normalized": False, "special": True,
            })
    json.dump(tokenizer, open(os.path.join(text, "tokenizer.json"), "w"))

    preprocessor = json.load(open(os.path.join(model, "preprocessor_config.json")))
    preprocessor["image_processor_type"] = "CLIPImageProcessor"
    preprocessor.pop("processor_class", None)
    json.dump(preprocessor, open(os.path.join(clip, "preprocessor_config.json"), "w"))


if __name__ == "__main__":
    main()
