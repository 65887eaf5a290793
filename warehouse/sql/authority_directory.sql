-- Authorities the lake already knows by name and credit code (credit decisions, licence
-- issuers): older credit records carry only the name. Names with two codes are left out.
SELECT name, any_value(code) AS code
FROM (
    SELECT authority_name AS name, authority_code AS code FROM core.credit_penalty
    UNION
    SELECT authority_name, authority_code FROM core.credit_permit
    UNION
    SELECT issuer_name, issuer_code FROM core.licence
)
WHERE name IS NOT NULL AND code IS NOT NULL
GROUP BY name
HAVING count(DISTINCT code) = 1
