-- TOTP secrets are sealed like OAuth tokens (AES-GCM, bound to the user's row). The clear
-- column stays only until every process has sealed what it holds: an API instance seals the
-- remaining clear secrets at start (UserRepository.sealClearTwoFactorSecrets).
ALTER TABLE users ADD COLUMN totp_secret_sealed bytea;
