"""A plan step's source when it is one file of an uploaded zip: listed, checked and extracted to a blob.

A legacy system's export is often one zip of CSVs. A step names its file in it (`source.member`); the first
pass of the step extracts that file, streamed, to a blob of the plan's, and every pass reads that blob as an
ordinary source. The zip is hostile until proven otherwise: the member must exist, and neither its declared
size, its inflation ratio nor the bytes it actually inflates to may pass the deployment's limits.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import PurePosixPath

from dms.clients.blobstore import BlobStore
from dms.errors import DMSError, Text
from dms.pipeline.source.contract import ReadOptions
from dms.pipeline.source.excel import MAX_ZIP_ENTRIES, RATIO_FLOOR_BYTES

COPY_BLOCK = 1024 * 1024


class ZipSourceError(DMSError):
    code = "ZIP_SOURCE_INVALID"


def data_members(path: str | os.PathLike[str]) -> list[str]:
    """The files of a zip a step could load (folders, hidden files and macOS resource forks left out)."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile:
        raise ZipSourceError(
            Text("The upload is not a zip archive, so a step cannot name a `member` of it.")
        ) from None
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ZipSourceError(
            Text("The zip holds %(count)s entries; no real export has that many.", count=f"{len(infos):,}"),
            code="ZIP_BOMB",
        )
    names = []
    for info in infos:
        parts = PurePosixPath(info.filename).parts
        if info.is_dir() or not parts or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
            continue
        names.append(info.filename)
    return names


def extract_member(
    blobs: BlobStore, archive_path: str | os.PathLike[str], member: str, key: str, options: ReadOptions
) -> int:
    """Copy one member of the zip to blob `key`, checking it on the way; returns the bytes written."""
    members = data_members(archive_path)
    if member not in members:
        shown = ", ".join(members[:20]) + (" ..." if len(members) > 20 else "")
        raise ZipSourceError(
            Text(
                "The zip has no file %(member)s (it has: %(value)s).",
                member=f"{member!r}",
                value=shown or "no data files",
            ),
            file=member,
        )
    with zipfile.ZipFile(archive_path) as archive:
        info = archive.getinfo(member)
        limit = options.max_unzipped_bytes
        if info.file_size > limit:
            raise ZipSourceError(
                Text(
                    "%(member)s would inflate to %(file_size)s bytes, over the limit of %(limit)s.",
                    member=member,
                    file_size=f"{info.file_size:,}",
                    limit=f"{limit:,}",
                ),
                code="ZIP_BOMB",
                file=member,
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= RATIO_FLOOR_BYTES and ratio > options.max_zip_ratio:
            raise ZipSourceError(
                Text(
                    "%(member)s inflates %(ratio)s times, over the limit of %(max_zip_ratio)s: the file looks "
                    "like a zip bomb.",
                    member=member,
                    ratio=f"{ratio:,.0f}",
                    max_zip_ratio=f"{options.max_zip_ratio:,.0f}",
                ),
                code="ZIP_BOMB",
                file=member,
            )
        written = 0
        with archive.open(info) as source, blobs.open_write(key) as out:
            while block := source.read(COPY_BLOCK):
                written += len(block)
                if written > min(limit, info.file_size):  # the header lied about its size
                    raise ZipSourceError(
                        Text("%(member)s inflates past the size its zip entry declares.", member=member),
                        code="ZIP_BOMB",
                        file=member,
                    )
                out.write(block)
    return written
