"""What a submitted job carries: no password in the entrypoint."""
import os
import sqlite3

from mmei.cluster.job_package import secrets_to_env
from mmei.platform.store import Store


def test_a_store_password_moves_from_the_entrypoint_to_the_jobs_env():
    command = ["ab", "report", "--store", "postgresql+psycopg://mmei:S3CRETPW@db.internal/mmei",
               "store_url=postgresql://u:HUNTER2@db/serve?sslmode=require", "train.epochs=3",
               "store_url=sqlite:////data/serve.db", "--output", "runs/ab"]
    arguments, secrets = secrets_to_env(command)
    assert "S3CRETPW" not in " ".join(arguments) and "HUNTER2" not in " ".join(arguments)
    assert arguments == ["ab", "report", "--store", "env:MMEI_JOB_SECRET_0", "store_url=env:MMEI_JOB_SECRET_1",
                         "train.epochs=3", "store_url=sqlite:////data/serve.db", "--output", "runs/ab"]
    assert secrets == {"MMEI_JOB_SECRET_0": "postgresql+psycopg://mmei:S3CRETPW@db.internal/mmei",
                       "MMEI_JOB_SECRET_1": "postgresql://u:HUNTER2@db/serve?sslmode=require"}


def test_the_rewritten_argument_opens_the_same_store_where_the_job_runs(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    sqlite3.connect(tmp_path / "serve.db").close()
    (argument,), secrets = secrets_to_env([f"store_url={url.replace('sqlite:///', 'sqlite://u:pw@/')}"])
    assert argument == "store_url=env:MMEI_JOB_SECRET_0"
    monkeypatch.setenv("MMEI_JOB_SECRET_0", url)  # what the job's runtime env sets on the cluster
    store = Store(argument.split("=", 1)[1])
    assert store.counts() == {} and os.environ["MMEI_JOB_SECRET_0"] == url
