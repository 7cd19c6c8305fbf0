# The dashboard and the dlq CLI (ingest follower, list, ...). Kafka itself runs elsewhere:
# compose.yaml starts an apache/kafka broker beside it.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DLQ_DB=/data/dlq.duckdb \
    DLQ_AUDIT_LOG=/data/dlq-audit.log \
    BROWSER_PATH=/usr/bin/chromium

# Chromium draws the charts of the HTML and Markdown exports (plotly's image export); without
# it the exports still work, without charts, and say so.
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl chromium fonts-liberation \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 dlq \
 && mkdir -p /data && chown dlq:dlq /data

WORKDIR /app
# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
COPY dashboard/__init__.py dashboard/__init__.py
COPY ingest/__init__.py ingest/__init__.py
RUN pip install .

COPY dashboard dashboard
COPY ingest ingest
COPY pages pages
COPY streamlit_app.py ./
COPY .streamlit .streamlit
RUN pip install --no-deps . && python -c "import dashboard.cli.main, ingest.job"

USER dlq
VOLUME ["/data"]
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD curl -fsS http://127.0.0.1:8501/_stcore/health || exit 1

# In a container the app must listen beyond loopback; put it behind your proxy or SSO.
CMD ["streamlit", "run", "streamlit_app.py", "--server.address=0.0.0.0", "--server.port=8501"]
