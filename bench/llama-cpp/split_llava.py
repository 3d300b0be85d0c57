"""Splits a llava-hf LLaVA-1.5 checkpoint the way llama.cpp's legacy LLaVA converter reads it:
a CLIP vision model folder (vision_tower.* weights, renamed) and a llava.projector file.

Usage: split_llava.py MODEL_DIR OUT_DIR
"""

import json
import os
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
    preprocessor = json.load(open(os.path.join(model, "preprocessor_config.json")))
    preprocessor["image_processor_type"] = "CLIPImageProcessor"
    preprocessor.pop("processor_class", None)
    json.dump(preprocessor, open(os.path.join(clip, "preprocessor_config.json"), "w"))


if __name__ == "__main__":
    main()
