"""Streamed uploads and downloads with rich progress bars (on stderr): the bytes never sit in memory whole."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)

from mcloud.session import Session, escape

CHUNK = 1024 * 1024


def transfer_progress(session: Session) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(binary_units=True), TransferSpeedColumn(),
                    TimeRemainingColumn(), console=session.err)


def read_chunks(path: Path, progress: Progress, task) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            progress.advance(task, len(chunk))
            yield chunk


def upload(session: Session, path: str, source: Path, content_type: str | None) -> dict:
    client = session.client()
    size = source.stat().st_size
    headers = {"Content-Length": str(size), "Content-Type": content_type or "application/octet-stream"}
    with transfer_progress(session) as progress:
        task = progress.add_task(escape(source.name), total=size)
        response = client.request("PUT", path, content=read_chunks(source, progress, task), headers=headers)
    return response.json()


def download(session: Session, path: str, target: Path | None, label: str) -> int:
    """Stream the object to ``target`` (stdout when None); the number of bytes written."""
    client = session.client()
    written = 0
    with client.stream("GET", path) as response:
        total = int(response.headers["Content-Length"]) if "Content-Length" in response.headers else None
        out: BinaryIO = open(target, "wb") if target is not None else sys.stdout.buffer
        try:
            with transfer_progress(session) as progress:
                task = progress.add_task(escape(label), total=total)
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
                    written += len(chunk)
                    progress.advance(task, len(chunk))
        finally:
            if target is not None:
                out.close()
            else:
                out.flush()
    return written
