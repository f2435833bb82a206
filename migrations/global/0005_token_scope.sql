-- A token's scope: application tokens request and read; operator tokens
-- approve or reject withdrawals awaiting approval, and nothing an
-- application token cannot do besides.
ALTER TABLE api_tokens ADD COLUMN scope text NOT NULL DEFAULT 'application'
    CHECK (scope IN ('application', 'operator'));
