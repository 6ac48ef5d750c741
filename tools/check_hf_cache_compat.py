#!/usr/bin/env python3
"""Checks that the Hugging Face cache our Swift downloader writes is one `huggingface_hub` reads.

Runs the ModelHub end-to-end test with LYCHEE_KEEP_HF_CACHE pointing at a fresh folder (the test's local
hub serves Fixtures/checkpoints/tiny-untied-legacy as `test-org/tiny`), then, with HF_HUB_OFFLINE=1 and
HF_HUB_CACHE at that folder, asks huggingface_hub for the files: snapshot_download(local_files_only=True)
and try_to_load_from_cache must find every file, byte-identical to the fixture.

Needs: huggingface_hub (installed with transformers; `pip install huggingface_hub` otherwise).
Usage: python3 tools/check_hf_cache_compat.py   (from the package root)
"""
import filecmp
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "Fixtures", "checkpoints", "tiny-untied-legacy")


def main() -> int:
    cache = tempfile.mkdtemp(prefix="lychee-hf-cache-")
    env = dict(os.environ, LYCHEE_KEEP_HF_CACHE=cache)
    subprocess.run(
        ["swift", "test", "--filter", "ModelHubTests.HubAccessTests/endToEnd"], cwd=ROOT, env=env, check=True,
        stdout=subprocess.DEVNULL)
    os.environ["HF_HUB_CACHE"] = cache
    os.environ["HF_HUB_OFFLINE"] = "1"
    import huggingface_hub  # after the variables, which it reads at import

    folder = huggingface_hub.snapshot_download("test-org/tiny", local_files_only=True)
    print(f"huggingface_hub {huggingface_hub.__version__}: snapshot_download -> {folder}")
    failures = 0
    for name in sorted(os.listdir(FIXTURE)):
        found = huggingface_hub.try_to_load_from_cache("test-org/tiny", name)
        same = isinstance(found, str) and filecmp.cmp(found, os.path.join(FIXTURE, name), shallow=False)
        print(f"  {name}: {'ok' if same else 'MISSING or DIFFERENT'} ({found})")
        failures += 0 if same else 1
    info = huggingface_hub.scan_cache_dir(cache)
    for repo in info.repos:
        refs = {ref: rev.commit_hash for rev in repo.revisions for ref in rev.refs}
        print(f"  scan_cache_dir: {repo.repo_id} {repo.size_on_disk} bytes, {repo.nb_files} files, refs {refs}")
    if info.warnings:
        print(f"  scan_cache_dir warnings: {info.warnings}")
        failures += len(info.warnings)
    print("OK" if failures == 0 else f"{failures} problem(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
