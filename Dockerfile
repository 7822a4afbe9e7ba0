# geosvc: registry + OGC API + equity endpoints, installed from its wheel exactly as tests/test_packaging.py
# does (scripts/install-wheel.sh into a fresh venv), then run from a working folder holding only the config
# and the layer records. The data root is mounted at /data (read-only), the store is a volume.
FROM python:3.12-slim-bookworm

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY . /src
RUN python -m venv /opt/geosvc \
    && bash /src/scripts/install-wheel.sh /src /opt/geosvc/bin/python /tmp/wheel \
    && rm -rf /src /tmp/wheel
ENV PATH=/opt/geosvc/bin:$PATH

WORKDIR /srv/geosvc
COPY deploy/geosvc.toml config/geosvc.toml
COPY layers layers
VOLUME ["/data", "/var/lib/geosvc"]
EXPOSE 5000
CMD ["sh", "-c", "geosvc publish; exec geosvc serve"]
