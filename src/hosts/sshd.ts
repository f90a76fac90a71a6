import type { Inventory } from './schema.js';
import type { HostView } from './topology.js';

/** Absolute paths the snippet refers to, after any staging prefix. */
export interface SshdPaths {
  userCAKeys: string;
  revokedKeys: string;
  principalsDir: string;
}

/**
 * Renders `/etc/ssh/sshd_config.d/ztproxy.conf`: certificate-only logins
 * signed by the user CA, a revocation list, principals per local user, no
 * passwords. sshd keeps the FIRST value it reads for most keywords, so the
 * snippet must be included before anything it overrides (Debian's
 * sshd_config includes sshd_config.d/*.conf on its first line).
 */
export function renderSshdSnippet(inv: Inventory, view: HostView, paths: SshdPaths): string {
  const kbd = inv.ssh.authenticationMethods.includes('keyboard-interactive');
  const lines = [
    `# sshd snippet of ${view.host.name} (role ${view.host.role}), rendered by \`ztproxy hosts render\`.`,
    '# Re-render instead of editing. Include it before any other setting: sshd keeps the first value.',
    `Port ${inv.ssh.port}`,
  ];
  if (view.sshWgOnly) {
    lines.push(
      '# SSH is reachable over wg0 only: listen on the wg address alone. sshd must start after',
      '# wg0 is up (systemd: After=wg-quick@wg0.service), or it cannot bind this address.',
      `ListenAddress ${view.host.address}`,
    );
  }
  lines.push(
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'PermitEmptyPasswords no',
    `KbdInteractiveAuthentication ${kbd ? 'yes' : 'no'}`,
    ...(kbd ? ['# The second factor comes from PAM: sshd_config must keep UsePAM yes.'] : []),
    `AuthenticationMethods ${inv.ssh.authenticationMethods}`,
    'PermitRootLogin prohibit-password',
    '# Only certificates signed by the user CA, and not revoked, log in.',
    `TrustedUserCAKeys ${paths.userCAKeys}`,
    `RevokedKeys ${paths.revokedKeys}`,
    '# A certificate logs in as user %u only if one of its principals is listed in this file.',
    `AuthorizedPrincipalsFile ${paths.principalsDir}/%u`,
    ...(inv.ssh.allowAuthorizedKeys ? [] : ['# No static keys: a key that is not a certificate never logs in.', 'AuthorizedKeysFile none']),
  );
  return `${lines.join('\n')}\n`;
}

/** Renders the principals file of one local user on one host (one principal a line). */
export function renderPrincipalsFile(view: HostView, user: string, principals: readonly string[]): string {
  return `# Certificate principals that may log in as ${user} on ${view.host.name} (role ${view.host.role}).\n${principals.join('\n')}\n`;
}
