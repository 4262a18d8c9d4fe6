"""Attachments (``run --attach``, ``ask --attach``): images and PDFs shown to the models that take them.

A file is checked before anything is created (it exists, is a file, is an image or a PDF by its first
bytes, is at most :data:`MAX_BYTES`), copied into the task's folder (``attachments/NAME``: an artifact
of the task, kept with it, read again by a resumed run), and sent with every call of a preset that
takes images (``vision = true``). Plan and review steps (and ``ask``) must see them: a step of those
kinds whose preset, or one of its fallbacks, cannot take images is refused before the task starts.
Other steps on a text-only preset (a builder, say) go without them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from specrelay.config import Config, Preset
from specrelay.errors import PresetError, UserError
from specrelay.llm.backend import Attachment
from specrelay.workflow import Workflow

#: The task folder's subfolder that holds a task's attachments.
FOLDER = "attachments"
#: The largest attachment taken: 20 MB (what the providers take of one image or document, roughly).
MAX_BYTES = 20 * 1024 * 1024
#: The step kinds that must see a task's attachments.
NEEDS_VISION = ("plan", "review")

#: First bytes → media type, for the types the providers take.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)
SUPPORTED = "png, jpeg, gif, webp or pdf"


def media_type(head: bytes) -> str | None:
    """The media type a file's first bytes say, or None when it is none of the supported ones."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), None)


def read_attachment(path: Path, option: str = "--attach") -> Attachment:
    """The file at ``path`` as an attachment; one clear line when it is missing, a folder, too large or
    of a type no model takes."""
    if not path.exists():
        raise UserError(f"{option} {path}: no such file; give the path of an image or PDF.")
    if not path.is_file():
        raise UserError(f"{option} {path}: is a directory, not a file; give the path of an image or PDF.")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise UserError(f"{option} {path}: {size / 1024 / 1024:.1f} MB, more than the {MAX_BYTES // 1024 // 1024} MB "
                        "an attachment may be; scale the image down or split the PDF.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{option} {path}: cannot be read ({exc.strerror}).") from None
    kind = media_type(data[:16])
    if kind is None:
        hint = "; pass a text file with --file instead" if _texty(data) else ""
        raise UserError(f"{option} {path}: not an image or PDF (attachments are {SUPPORTED}){hint}.")
    return Attachment(path.name, kind, data)


def _texty(data: bytes) -> bool:
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def read_attachments(files: Sequence[Path], option: str = "--attach") -> tuple[Attachment, ...]:
    """Every file checked (:func:`read_attachment`); two with the same name are refused (the task folder
    keeps them by name)."""
    out = tuple(read_attachment(Path(f), option) for f in files)
    names = [a.name for a in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(f"{option}: two attachments are named {twice[0]}; rename one of them.")
    return out


def save(folder: Path, attachments: Iterable[Attachment]) -> None:
    """Write the attachments into the task's folder (``attachments/NAME``)."""
    items = list(attachments)
    if not items:
        return
    target = folder / FOLDER
    target.mkdir(exist_ok=True)
    for attachment in items:
        (target / attachment.name).write_bytes(attachment.data)


def load(folder: Path) -> tuple[Attachment, ...]:
    """The attachments kept in a task's folder, by name (none: an empty tuple)."""
    target = folder / FOLDER
    if not target.is_dir():
        return ()
    return read_attachments(sorted(p for p in target.iterdir() if p.is_file()), "attachment")


def refuse_text_only(preset: Preset, config: Config, what: str, attachments: Sequence[Attachment]) -> None:
    """Refuse ``preset`` (or a fallback of it) that cannot take images for ``what`` (a step, an ask)."""
    files = ", ".join(a.name for a in attachments)
    for name in [preset.name, *preset.fallbacks]:
        tried = config.presets.get(name)
        if tried is None or tried.vision:
            continue
        which = f"preset '{name}'" + (f" (a fallback of '{preset.name}')" if name != preset.name else "")
        raise PresetError(
            f"{what} would be shown the attachments ({files}), but {which} cannot take images (vision is not "
            f"set); route it to a preset that takes images (e.g. [routes] vision), or set vision = true in "
            f"[presets.{name}] if its model does.")


def check_workflow(config: Config, workflow: Workflow, attachments: Sequence[Attachment]) -> None:
    """Before a task starts: every plan and review step's presets take the attachments."""
    if not attachments:
        return
    for step in workflow.steps:
        if str(step.kind) not in NEEDS_VISION:
            continue
        for name in step.team:
            preset = config.presets.get(name)
            if preset is not None:
                refuse_text_only(preset, config, f"step '{step.title}' ({step.kind})", attachments)
