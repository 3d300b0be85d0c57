"""Greedy answers of Hugging Face transformers' LlavaForConditionalGeneration, the stack the
article used: the reference that vchat's engine must match token for token.

Usage: llava_reference.py MODEL_DIR [DEVICE] (DEVICE: cpu, the default, or cuda).
Reads a JSON list of chats on stdin, each {"image": PATH, "turns": [TEXT, ...],
"max_new_tokens": N}, and writes for each chat a list of turns {"prompt", "tokens", "text"}.
The image goes with the first turn; each answer is fed back as the assistant's turn, as a
chat front-end does.
"""

import json
import sys

import torch
from PIL import Image
from transformers import AutoProcessor, LlavaForConditionalGeneration


def answer_chat(model, processor, chat, device):
    image = Image.open(chat["image"]).convert("RGB")
    conversation = []
    turns = []
    for index, question in enumerate(chat["turns"]):
        content = [{"type": "image"}] if index == 0 else []
        content.append({"type": "text", "text": question})
        conversation.append({"role": "user", "content": content})
        prompt = processor.apply_chat_template(conversation, add_generation_prompt=True)
        inputs = processor(images=image, text=prompt, return_tensors="pt").to(device)
        with torch.no_grad():
            output = model.generate(
                **inputs,
                max_new_tokens=chat["max_new_tokens"],
                do_sample=False,
            )
        new_tokens = output[0, inputs["input_ids"].shape[1]:].tolist()
        text = processor.tokenizer.decode(new_tokens, skip_special_tokens=True)
        turns.append({"prompt": prompt, "tokens": new_tokens, "text": text})
        conversation.append(
            {"role": "assistant", "content": [{"type": "text", "text": text}]}
        )
    return turns


def main():
    model_dir = sys.argv[1]
    device = sys.argv[2] if len(sys.argv) > 2 else "cpu"
    chats = json.load(sys.stdin)
    torch.set_num_threads(2)
    # Full F32 on a GPU too: no TF32 in the vision tower's convolution (the engine has none).
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    model = LlavaForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32)
    model.to(device).eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    json.dump([answer_chat(model, processor, chat, device) for chat in chats], sys.stdout)


if __name__ == "__main__":
    main()
