"""Greedy answers of Hugging Face transformers for any image-text-to-text model (Gemma 3,
Qwen2.5-VL, Qwen3-VL, ...): the reference vchat's engine must match token for token.

The prompt goes through the processor's own chat path, `apply_chat_template(..., tokenize=True)`,
as transformers' documentation and model cards use it (the template writes its special tokens;
nothing adds them twice).

Reads a JSON list of chats on stdin, each {"images": [PATH, ...], "turns": [TEXT, ...],
"max_new_tokens": N, "forced": [ID, ...] (optional)}, and writes for each chat a list of turns
{"prompt", "prompt_tokens", "tokens", "text"}. The images go with the first turn; each answer is
fed back as the assistant's turn, as a chat front-end does.

With "forced", the last turn also gets "scores": for each of those token ids, the best logit of
that step and the forced token's logit (and "forced_text", their decode), computed with the forced ids before it (teacher
forcing). That tells a near tie, where float noise may pick either token, from a real
difference.
"""

import json
import sys

import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor


def answer_chat(model, processor, chat):
    images = [Image.open(path).convert("RGB") for path in chat["images"]]
    conversation = []
    turns = []
    for index, question in enumerate(chat["turns"]):
        content = [{"type": "image", "image": image} for image in images] if index == 0 else []
        content.append({"type": "text", "text": question})
        conversation.append({"role": "user", "content": content})
        prompt = processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
        inputs = processor.apply_chat_template(
            conversation, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
        )
        with torch.no_grad():
            output = model.generate(**inputs, max_new_tokens=chat["max_new_tokens"], do_sample=False)
        new_tokens = output[0, inputs["input_ids"].shape[1]:].tolist()
        text = processor.tokenizer.decode(new_tokens, skip_special_tokens=True)
        turn = {"prompt": prompt, "tokens": new_tokens, "text": text,
                "prompt_tokens": inputs["input_ids"].shape[1]}
        if "forced" in chat and index == len(chat["turns"]) - 1:
            turn["scores"] = score(model, inputs, chat["forced"])
            turn["forced_text"] = processor.tokenizer.decode(chat["forced"], skip_special_tokens=True)
        turns.append(turn)
        conversation.append({"role": "assistant", "content": [{"type": "text", "text": text}]})
    return turns


def score(model, inputs, forced):
    """Each forced token's logit next to the best one, given the prompt and the forced tokens
    before it: one forward pass over prompt + forced ids."""
    length = inputs["input_ids"].shape[1]
    extended = dict(inputs)
    for key, value in inputs.items():
        # Per-token inputs (ids, attention mask, token types) grow with the forced tokens.
        if torch.is_tensor(value) and value.dim() == 2 and value.shape[1] == length:
            fill = forced if key == "input_ids" else [1 if key == "attention_mask" else 0] * len(forced)
            extended[key] = torch.cat([value, torch.tensor([fill], dtype=value.dtype)], dim=1)
    with torch.no_grad():
        logits = model(**extended).logits[0, length - 1: length - 1 + len(forced)].float()
    return [{"best": row.max().item(), "forced": row[token].item(), "best_token": row.argmax().item()}
            for row, token in zip(logits, forced)]


def main():
    model_dir = sys.argv[1]
    chats = json.load(sys.stdin)
    torch.set_num_threads(2)
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    json.dump([answer_chat(model, processor, chat) for chat in chats], sys.stdout)


if __name__ == "__main__":
    main()
