"""Makes a container on the azurite emulator at AZURITE_BLOB_STORAGE_URL
(default http://127.0.0.1:10000), for the Azure tests: the one argument
names it. Used by .ci/run."""

import os
import sys

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient

url = os.environ.get("AZURITE_BLOB_STORAGE_URL", "http://127.0.0.1:10000")
# The emulator's well-known development account and key.
conn = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    f"BlobEndpoint={url}/devstoreaccount1;"
)
try:
    BlobServiceClient.from_connection_string(conn).create_container(sys.argv[1])
except ResourceExistsError:
    pass
