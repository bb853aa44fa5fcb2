"""A tiny CLIP model folder for tests: random weights, a toy BPE vocabulary, nothing downloaded."""

import json
import string
from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPTokenizer

START, END = "<|startoftext|>", "<|endoftext|>"
# Enough merges that "a red apple" becomes whole words, so the tokenizer is exercised as BPE, not per letter.
MERGES = ["r e", "re d</w>", "a p", "ap p", "l e</w>", "app le</w>"]
IMAGE_SIZE = 32
PROJECTION_DIM = 16


def tiny_clip_vocab() -> dict[str, int]:
    """Letters and their word-final forms, the tokens the merges make, then the two special tokens, as CLIP orders them."""
    tokens = list(string.ascii_lowercase) + [f"{letter}</w>" for letter in string.ascii_lowercase]
    tokens += ["".join(merge.split()) for merge in MERGES]
    tokens += [START, END]
    return {token: index for index, token in enumerate(tokens)}


def save_tiny_clip(folder: Path, seed: int = 0) -> Path:
    """A folder ``CLIPModel``, ``AutoTokenizer`` and the image processor load with ``from_pretrained``."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = tiny_clip_vocab()
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(MERGES) + "\n")
    tokenizer = CLIPTokenizer.from_pretrained(folder, model_max_length=16)
    tokenizer.save_pretrained(folder)

    # The text model pools at the end-of-text token, found by its id: it must be this vocabulary's id.
    special = {"bos_token_id": vocab[START], "eos_token_id": vocab[END], "pad_token_id": vocab[END]}
    text_config = dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=2, max_position_embeddings=16, projection_dim=PROJECTION_DIM, **special)
    vision_config = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         image_size=IMAGE_SIZE, patch_size=8, projection_dim=PROJECTION_DIM)
    torch.manual_seed(seed)
    config = CLIPConfig(text_config=text_config, vision_config=vision_config, projection_dim=PROJECTION_DIM)
    CLIPModel(config).save_pretrained(folder)
    square = {"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    CLIPImageProcessorPil(size={"shortest_edge": IMAGE_SIZE}, crop_size=square).save_pretrained(folder)
    return folder
