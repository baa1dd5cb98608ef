"""`prover setup isabelle`: what a machine needs for the Isabelle backend, and where it stands."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import sandbox

ISABELLE_URL = "https://isabelle.in.tum.de/website-Isabelle2022/dist/Isabelle2022_linux.tar.gz"
PISA_URL = "https://github.com/albertqjiang/Portal-to-ISAbelle"


def _java_11() -> bool:
    java = shutil.which("java")
    if java is None:
        return False
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return 'version "11' in (done.stderr + done.stdout)


def isabelle_steps(home: Path | None = None) -> list[str]:
    """The set-up steps, each marked done or to do on this machine (docker/isabelle.Dockerfile runs them)."""
    home = home or Path.home()
    isabelle = home / "Isabelle2022"
    heaps = list((home / ".isabelle").glob("Isabelle2022/heaps/*/HOL"))
    jar = home / "Portal-to-ISAbelle" / "target" / "scala-2.13" / "PISA-assembly-0.1.jar"

    def mark(done: bool) -> str:
        return "[done]" if done else "[todo]"

    return [
        "Isabelle backend set-up (Isabelle2022, Java 11, PISA, HOL heaps):",
        f"{mark(_java_11())} Java 11 and sbt: sdk install java 11.0.11-open && sdk install sbt "
        "(or apt-get install openjdk-11-jdk)",
        f"{mark(isabelle.is_dir())} Isabelle2022: curl -L {ISABELLE_URL} | tar -xz -C {home}",
        f"{mark(bool(heaps))} HOL heaps: {isabelle}/bin/isabelle build -b -D {isabelle}/src/HOL/ -j 8",
        f"{mark(jar.is_file())} PISA: git clone {PISA_URL} {home}/Portal-to-ISAbelle && "
        f"cd {home}/Portal-to-ISAbelle && sbt compile && sbt assembly",
        f"{mark(sandbox.probe() is None)} bubblewrap (the sandbox PISA runs in): apt-get install bubblewrap "
        "(`prover setup isabelle` installs it when run as root)",
        f"then: prover dsp --isa-path {isabelle} --pisa-jar {jar}   (or --pisa-address HOST:PORT of a running server)",
    ]
