"""Class-per-folder image sets written to disk for the tests: photo-like classes a network can
learn, and every kind of hostile or odd file a user's folder holds."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

PALETTE = [(200, 40, 40), (40, 160, 60), (50, 70, 200), (220, 200, 40), (150, 60, 170)]
NAMES = ["bulbasaur", "charmander", "mewtwo", "pikachu", "squirtle"]


def photo(label: int, size: tuple[int, int], seed: int) -> Image.Image:
    """A 'photo' of a class: its colour as a blob on a noisy background; each class has its own
    colour and blob shape, so a network can tell them apart."""
    rng = np.random.default_rng(seed)
    w, h = size
    img = rng.integers(90, 170, size=(h, w, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.35, 0.65)
    r = min(w, h) * rng.uniform(0.25, 0.4)
    if label % 2:
        mask = (np.abs(xx - cx) < r) & (np.abs(yy - cy) < r)  # a square
    else:
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r**2  # a disc
    colour = np.array(PALETTE[label], dtype=np.float32) * rng.uniform(0.85, 1.15)
    img[mask] = colour + rng.normal(0, 12, size=(int(mask.sum()), 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def write_photo_folder(root: Path, per_class: int = 60, classes: int = 5, seed: int = 0) -> Path:
    """``classes`` folders of ``per_class`` photos, mixed JPEG and PNG, 96-256 px on a side."""
    rng = np.random.default_rng(seed)
    for label in range(classes):
        folder = root / NAMES[label]
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            size = (int(rng.integers(96, 257)), int(rng.integers(96, 257)))
            image = photo(label, size, seed * 100_000 + label * 1000 + i)
            if i % 2:
                image.save(folder / f"{i:03d}.jpg", quality=90)
            else:
                image.save(folder / f"{i:03d}.png")
    return root


def bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A tiny PNG whose header claims width × height pixels (1.6 G): a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def write_hostile_folder(root: Path, per_class: int = 8) -> dict:
    """Two learnable classes plus every kind of odd and hostile file. Returns what a scan must
    find: the usable images, the skipped files with their reasons and the ignored files."""
    usable: list[str] = []
    for label, name in ((0, "cats"), (3, "dogs")):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            photo(label, (64 + 8 * i, 72), label * 100 + i).save(folder / f"plain{i}.png")
            usable.append(f"{name}/plain{i}.png")
    cats, dogs = root / "cats", root / "dogs"

    def add(rel: str, image: Image.Image, **save):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, **save)
        usable.append(rel)

    base = photo(0, (80, 60), 999)
    add("cats/palette.png", base.convert("P", palette=Image.Palette.ADAPTIVE))
    rgba = base.convert("RGBA")
    rgba.putalpha(128)
    add("cats/transparent.png", rgba)
    add("cats/grey_alpha.png", base.convert("LA"))
    grey16 = (np.asarray(base.convert("L"), dtype=np.uint16) * 200 + 500).astype(np.uint16)  # 500 … 51,500
    add("cats/sixteen_bit.png", Image.fromarray(grey16))  # mode I;16
    add("cats/float.tif", Image.fromarray(np.asarray(base.convert("L"), dtype=np.float32) / 255.0 * 3.5 - 1.0))  # mode F
    add("cats/cmyk.jpg", base.convert("CMYK"), quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90°
    add("cats/sideways.JPG", base, exif=exif, quality=90)
    frames = [photo(0, (40, 40), 1000 + k) for k in range(3)]
    path = cats / "animated.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    usable.append("cats/animated.gif")
    add("dogs/one_pixel.png", Image.new("RGB", (1, 1), (200, 40, 40)))
    add("dogs/very_wide.png", photo(3, (1000, 10), 5))
    add("dogs/bitmap.bmp", photo(3, (50, 50), 6))
    add("dogs/modern.webp", photo(3, (50, 50), 7))
    add("dogs/scan.TIFF", photo(3, (50, 50), 8))
    add("dogs/nested/deeper/puppy.jpeg", photo(3, (70, 70), 9))
    (dogs / "copy_of_plain0.png").write_bytes((dogs / "plain0.png").read_bytes())  # an exact duplicate
    usable.append("dogs/copy_of_plain0.png")

    skipped = {
        "cats/empty.png": "zero bytes",
        "cats/notes.jpg": "not an image",
        "cats/truncated.jpg": "truncated",
        "dogs/bomb.png": "decompression bomb",
        "dogs/broken_link.png": "unreadable",
    }
    (cats / "empty.png").write_bytes(b"")
    (cats / "notes.jpg").write_text("these are my notes, not a picture")
    buffer = io.BytesIO()
    photo(0, (120, 120), 77).save(buffer, "JPEG", quality=95)
    (cats / "truncated.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (dogs / "bomb.png").write_bytes(bomb_png())
    os.symlink(root / "no-such-file.png", dogs / "broken_link.png")

    ignored = ["cats/.DS_Store", "cats/readme.txt", "dogs/Thumbs.db", "dogs/.hidden.png", "notes.md",
               "dogs/.thumbnails/"]
    (cats / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (cats / "readme.txt").write_text("cats")
    (dogs / "Thumbs.db").write_bytes(b"\0" * 10)
    photo(3, (30, 30), 10).save(dogs / ".hidden.png")
    (root / "notes.md").write_text("my dataset")
    (dogs / ".thumbnails").mkdir()
    photo(3, (30, 30), 11).save(dogs / ".thumbnails" / "t.png")
    (root / "birds").mkdir()  # an empty class
    (root / "fish").mkdir()
    (root / "fish" / "fish.txt").write_text("no fish yet")  # a class with no image at all
    ignored.append("fish/fish.txt")
    return {"usable": sorted(usable), "skipped": skipped, "ignored": sorted(ignored),
            "left_out": {"birds": "empty folder", "fish": "no image files"}}
