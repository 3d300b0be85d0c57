"""The text the tiny models' tokenizers are trained on (make_hf_gemma3.py, make_hf_qwen_vl.py):
English chat-like sentences, with German, Japanese and an emoji so that multi-byte UTF-8 occurs."""

CORPUS = [
    "What is shown in this image? Describe the picture in detail.",
    "The photo shows a red car parked next to a green tree under a blue sky.",
    "A cat sits on a wooden table; a dog sleeps on the floor by the window.",
    "How many people are there, and what are they doing in the background?",
    "猫が窓のそばで寝ています。 Ein Hund läuft über die Straße. 🙂",
] * 50
