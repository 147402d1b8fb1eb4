"""Reader of the Omniglot data set (Lake, Salakhutdinov & Tenenbaum 2015), for ``PlasticOmniglot-v0``.

The images are read once per (data, split, image size) into one array ``[n_characters, n_drawings, H, W]`` uint8
(ink 255 on 0, resized from 105x105 with Pillow's antialiasing), so sampling an episode is numpy indexing.

Where the data comes from (``root`` defaults to the folder of an enclosing ``data_root`` block, else
``$PLASTIC_GYM_DATA/omniglot``), looked up in this order:

1. Named subsets of the official repository (https://github.com/brendenlake/omniglot, folder ``python/``), each
   either a zip file ``root/NAME.zip`` (read directly, never extracted) or its extracted folder ``root/NAME/``:
   ``split="train"`` reads ``images_background``, or else ``images_background_small1``;
   ``split="test"`` reads ``images_evaluation``, or else ``images_background_small2``.
   The test split leaves out every alphabet that the train subset in the same root also has, so that train and
   test never share a character: ``images_background`` and ``images_evaluation`` share none, but the two small
   subsets both hold Greek and Latin (same drawings), so with them train has 5 alphabets (136 characters) and
   test the 3 others of ``small2`` (Japanese katakana, Sanskrit, Tagalog: 106 characters).
2. Otherwise a root that directly holds alphabets (``root/ALPHABET/characterNN/*.png``, or one zip file of that
   layout) is one pool: its alphabets sorted by name are split 60/40 (as background/evaluation are, 30/20), the
   first 60% for ``"train"`` and the rest for ``"test"``.

Whatever is read must have that layout: every png sits in a folder ``characterNN`` inside an alphabet folder. Any
other tree (e.g. the official one-shot runs ``all_runs.zip``, ``runNN/training/classNN.png``: read those with
``plastic_gym.leaderboard.omniglot_runs``) is a ``ValueError`` that says what was found; so is a zip file that is
empty, truncated or damaged (naming the file).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import zipfile
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DOWNLOAD_URL = "https://github.com/brendenlake/omniglot/tree/master/python"
#: Official subsets per split, in order of preference.
SUBSETS = {"train": ("images_background", "images_background_small1"),
           "test": ("images_evaluation", "images_background_small2")}
#: Fraction of alphabets that ``split="train"`` takes from a root that is a single pool of alphabets.
TRAIN_FRACTION = 0.6
#: The name of a character folder in the Omniglot layout (``ALPHABET/characterNN/*.png``).
CHARACTER_PATTERN = re.compile(r"character\d+")


class OmniglotNotFoundError(FileNotFoundError, ValueError):
    """The Omniglot data is not where ``root`` says (a ``FileNotFoundError`` and a ``ValueError``)."""


@dataclass(frozen=True)
class OmniglotSet:
    """The characters of one split: ``images[c, d]`` is drawing d of character c (uint8, ink 255 on 0)."""

    images: np.ndarray  # [n_characters, n_drawings, H, W] uint8, read-only
    names: tuple[str, ...]  # "alphabet/characterNN" of each character
    sources: tuple[str, ...]  # the zip files / folders read

    @property
    def n_characters(self) -> int:
        return self.images.shape[0]

    @property
    def n_drawings(self) -> int:
        return self.images.shape[1]

    @property
    def alphabets(self) -> tuple[str, ...]:
        return tuple(sorted({n.split("/")[0] for n in self.names}))

    def alphabet_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """``(first, count)`` int64 ``[n_alphabets]``: the characters of alphabet a (in ``alphabets`` order) are
        ``first[a] .. first[a] + count[a] - 1`` (characters are stored sorted by alphabet)."""
        of = np.array([n.split("/")[0] for n in self.names])
        first = np.array([np.argmax(of == a) for a in self.alphabets], np.int64)
        return first, np.array([np.count_nonzero(of == a) for a in self.alphabets], np.int64)


#: The folder of the innermost ``data_root`` block (None outside one).
_ROOT_OF_BLOCK: ContextVar[Path | None] = ContextVar("omniglot_root_of_block", default=None)


def default_root() -> Path | None:
    """Where a task built without ``root`` reads: the folder of an enclosing ``data_root`` block, else
    ``$PLASTIC_GYM_DATA/omniglot``, else None."""
    block = _ROOT_OF_BLOCK.get()
    if block is not None:
        return block
    base = os.environ.get("PLASTIC_GYM_DATA")
    return Path(base) / "omniglot" if base else None


@contextlib.contextmanager
def data_root(path: str | os.PathLike | None) -> Iterator[None]:
    """Within the block, Omniglot tasks built without a ``root`` read the data from ``path`` (None: no change).

    A checkpoint stores its task's kwargs without a machine path, so loading one rebuilds its training task from the
    default root; the command line's ``--data-root`` runs loading and evaluation inside this block, so that one flag
    says where the data is for the agents and the episodes alike."""
    token = _ROOT_OF_BLOCK.set(Path(path).expanduser() if path is not None else _ROOT_OF_BLOCK.get())
    try:
        yield
    finally:
        _ROOT_OF_BLOCK.reset(token)


def _missing(root: Path | None, why: str) -> OmniglotNotFoundError:
    where = f"root={str(root)!r}" if root is not None else "root=None and $PLASTIC_GYM_DATA is not set"
    target = str(root) if root is not None else "$PLASTIC_GYM_DATA/omniglot"
    return OmniglotNotFoundError(
        f"Omniglot data not found ({where}): {why}. Download images_background.zip and images_evaluation.zip "
        f"(or the small subsets images_background_small1.zip and images_background_small2.zip) from {DOWNLOAD_URL} "
        f"and put the zip files (or their extracted folders) in {target}, then pass root=that folder or set "
        f"PLASTIC_GYM_DATA to its parent. Or use source='glyphs' (procedural characters, no download).")


def _find_subset(root: Path, name: str) -> Path | None:
    for path in (root / name, root / f"{name}.zip"):
        if path.is_dir() or (path.is_file() and path.suffix == ".zip"):
            return path
    return None


def open_zip(path: Path) -> zipfile.ZipFile:
    """``zipfile.ZipFile(path)``, with a ``ValueError`` naming the file if it is not a readable zip or is empty."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ValueError(f"{path} is not a readable zip file ({type(err).__name__}: {err}): it is truncated or "
                         f"damaged; expected an Omniglot zip such as images_background.zip, download it again "
                         f"from {DOWNLOAD_URL}") from err
    if not archive.namelist():
        archive.close()
        raise ValueError(f"{path} is an empty zip file; expected an Omniglot zip such as images_background.zip "
                         f"(ALPHABET/characterNN/*.png), download it again from {DOWNLOAD_URL}")
    return archive


def read_member(archive: zipfile.ZipFile | None, loc: str) -> bytes:
    """The bytes of a zip member (or of the file ``loc`` when ``archive`` is None); a damaged member is a
    ``ValueError`` naming the zip file and the member."""
    if archive is None:
        return Path(loc).read_bytes()
    try:
        return archive.read(loc)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise ValueError(f"{archive.filename}: member {loc} cannot be read ({type(err).__name__}: {err}); the zip "
                         f"file is truncated or damaged, download it again from {DOWNLOAD_URL}") from err
    except Exception as err:  # zlib.error and friends of a corrupt deflate stream
        raise ValueError(f"{archive.filename}: member {loc} cannot be decompressed ({type(err).__name__}: {err}); "
                         f"the zip file is damaged, download it again from {DOWNLOAD_URL}") from err


def decode_png(data: bytes, size: int, where: str) -> np.ndarray:
    """An Omniglot png (black ink on white) as ``uint8 [size, size]``, ink 255 on 0, resized bilinearly."""
    from PIL import Image, UnidentifiedImageError  # only the readers need Pillow

    try:
        with Image.open(io.BytesIO(data)) as im:
            ink = Image.fromarray(255 - np.asarray(im.convert("L")))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"{where} is not a readable png image ({type(err).__name__}: {err})") from err
    return np.asarray(ink.resize((size, size), Image.Resampling.BILINEAR))


def _list_pngs(source: Path) -> dict[tuple[str, str], list[str]]:
    """(alphabet, character) -> sorted png locations (zip member names or file paths) of a zip or a folder.

    Raises ``ValueError`` if a png lies anywhere but in an ``ALPHABET/characterNN/`` folder (see ``check_layout``).
    """
    if source.is_file():
        with open_zip(source) as z:
            members = [m for m in z.namelist() if m.lower().endswith(".png")]
        items = [(tuple(m.split("/")[-3:-1]), m) for m in members if m.count("/") >= 2]
        stray = [m for m in members if m.count("/") < 2]
    else:
        items = [((p.parent.parent.name, p.parent.name), str(p)) for p in source.glob("*/*/*.png")]
        stray = [str(p.relative_to(source)) for p in source.rglob("*.png") if len(p.relative_to(source).parts) != 3
                 and not _is_subset_member(source, p)]
    table: dict[tuple[str, str], list[str]] = {}
    for key, loc in items:
        table.setdefault(key, []).append(loc)
    table = {k: sorted(v) for k, v in sorted(table.items())}
    check_layout(source, table, stray)
    return table


def _is_subset_member(root: Path, png: Path) -> bool:
    """A png under ``root/SUBSET/`` (an extracted official subset beside the zips) is not a stray file of root."""
    return png.relative_to(root).parts[0] in {n for names in SUBSETS.values() for n in names}


def check_layout(source: Path, table: dict[tuple[str, str], list[str]], stray: list[str]) -> None:
    """A ``ValueError`` saying what was found if ``source`` is not the ``ALPHABET/characterNN/*.png`` layout."""
    odd = sorted(f"{a}/{c}" for a, c in table if not CHARACTER_PATTERN.fullmatch(c))
    if not odd and not stray:
        return
    found = (f"{len(odd)} png folder(s) not named characterNN (e.g. {', '.join(odd[:3])})" if odd
             else f"{len(stray)} png file(s) outside ALPHABET/characterNN/ folders (e.g. {', '.join(stray[:3])})")
    runs = any(re.fullmatch(r"run\d+/(training|test)", k) for k in odd)
    hint = (" This looks like the official one-shot runs (all_runs.zip): play them with plastic-gym evaluate "
            "--omniglot-runs PATH." if runs else "")
    raise ValueError(f"{source} is not in the Omniglot layout: found {found}; expected ALPHABET/characterNN/*.png "
                     f"(as in images_background.zip, images_evaluation.zip, images_background_small1.zip).{hint}")


def locate(root: str | os.PathLike | None, split: str) -> tuple[tuple[Path, ...], tuple[str, ...], tuple[str, ...]]:
    """Where ``split`` reads from: ``(sources, alphabets to keep or (), alphabets to leave out)`` (see module doc)."""
    path = Path(root).expanduser() if root is not None else default_root()
    if path is None:
        raise _missing(None, "no data folder given")
    if not path.exists():
        raise _missing(path, "the folder does not exist")
    if path.is_dir():
        found = {s: next((p for n in SUBSETS[s] if (p := _find_subset(path, n)) is not None), None) for s in SUBSETS}
        if found[split] is not None:
            exclude = ()
            if split == "test" and found["train"] is not None:
                exclude = tuple(sorted({a for a, _ in _list_pngs(found["train"])}))
            return (found[split],), (), exclude
    alphabets = sorted({a for a, _ in _list_pngs(path)})
    if not alphabets:
        raise _missing(path, f"it holds neither the subsets {SUBSETS[split]} (zip or folder) nor "
                             f"ALPHABET/CHARACTER/*.png folders")
    if len(alphabets) < 2:
        raise ValueError(f"Omniglot root {str(path)!r} holds one alphabet ({alphabets[0]}); splitting it into "
                         f"train/test alphabets needs at least 2")
    n_train = min(len(alphabets) - 1, max(1, math.ceil(TRAIN_FRACTION * len(alphabets))))
    keep = alphabets[:n_train] if split == "train" else alphabets[n_train:]
    return (path,), tuple(keep), ()


def load(root: str | os.PathLike | None, split: str, image_size: int) -> OmniglotSet:
    """The characters of ``split`` at ``image_size`` (cached: tasks over the same data share one array)."""
    if split not in SUBSETS:
        raise ValueError(f"split must be one of {tuple(SUBSETS)}, got {split!r}")
    sources, keep, exclude = locate(root, split)
    stamp = tuple((str(p.resolve()), p.stat().st_mtime_ns) for p in sources)
    return _load_cached(stamp, keep, exclude, int(image_size))


@lru_cache(maxsize=4)
def _load_cached(stamp: tuple[tuple[str, int], ...], keep: tuple[str, ...], exclude: tuple[str, ...],
                 size: int) -> OmniglotSet:
    sources = tuple(Path(p) for p, _ in stamp)
    chars: list[tuple[str, str, Path, list[str]]] = []
    for source in sources:
        for (alphabet, character), locs in _list_pngs(source).items():
            if (keep and alphabet not in keep) or alphabet in exclude:
                continue
            chars.append((alphabet, character, source, locs))
    if not chars:
        raise OmniglotNotFoundError(f"no Omniglot characters found in {[str(s) for s in sources]}")
    counts = [len(locs) for *_, locs in chars]
    n_drawings = min(counts)
    if n_drawings < 2:
        raise ValueError(f"every Omniglot character needs >= 2 drawings; {chars[counts.index(n_drawings)][:2]} has "
                         f"{n_drawings}")
    images = np.empty((len(chars), n_drawings, size, size), np.uint8)
    archives = {s: open_zip(s) for s in sources if s.is_file()}
    try:
        for c, (_, _, source, locs) in enumerate(chars):
            for d, loc in enumerate(locs[:n_drawings]):
                data = read_member(archives.get(source), loc)
                images[c, d] = decode_png(data, size, f"{source}: {loc}" if source in archives else loc)
    finally:
        for z in archives.values():
            z.close()
    images.setflags(write=False)
    return OmniglotSet(images, tuple(f"{a}/{ch}" for a, ch, *_ in chars), tuple(str(s) for s in sources))
