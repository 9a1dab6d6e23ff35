"""Several workspaces over OAuth (issue 13, item 2): Bolt's install flow on our own stores, tokens encrypted at
rest, one refresher at a time, and workspaces leaving.

- crypto.py: `TokenCipher` (Fernet/MultiFernet, keys newest first), `new_key`.
- store.py: `EncryptedInstallationStore` (slack_sdk's InstallationStore on the `installations` table; refreshes a
  rotating token under a row lock) and `DatabaseStateStore` (OAuth states, each consumed once).
- workspaces.py: `Installs`: Bolt's OAuth settings and pages, `token_for` (each workspace's token for the clock
  and the request path), `removed` / `forget_due` / `forget` (uninstalls and the grace period),
  `teams_revoked` / `teams_granted` (workspaces taken out of an org-wide install and back; the clock sorts
  their people, bot.clock.sorting),
  `GrantedTeamsAuthorize` (refuses requests from a workspace taken out), `reencrypt`.
- routing.py: the request's installation for sends made with the process's own client.
- pages.py: the install, success and failure pages.

Sits beside bot.clock, under the services: may import bot.storage, bot.config, slack_sdk and slack_bolt; never a
feature, the clock or the handlers.
"""

from bot.install.crypto import TokenCipher, TokenKeyError, new_key
from bot.install.routing import ContextExecutor, InstallRoutedClient, remember_install
from bot.install.store import DatabaseStateStore, EncryptedInstallationStore, install_key
from bot.install.workspaces import GRACE, Forgotten, Installs, authorize_url

__all__ = [
    "GRACE",
    "ContextExecutor",
    "DatabaseStateStore",
    "EncryptedInstallationStore",
    "Forgotten",
    "InstallRoutedClient",
    "Installs",
    "TokenCipher",
    "TokenKeyError",
    "authorize_url",
    "install_key",
    "new_key",
    "remember_install",
]
