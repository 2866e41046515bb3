-- Myanmar's four mobile operators (DESIGN.md "Carriers"). The ICCID issuer prefixes (89 95 + the
-- two-digit issuer id) are taken to follow each operator's MNC, which is how Myanmar's ICCIDs read.
INSERT INTO "operators" ("id", "name", "country", "mcc", "mnc", "iccid_prefix") VALUES
  ('mm-mpt', 'MPT', 'MM', '414', '01', '899501'),
  ('mm-ooredoo', 'Ooredoo Myanmar', 'MM', '414', '05', '899505'),
  ('mm-atom', 'ATOM', 'MM', '414', '06', '899506'),
  ('mm-mytel', 'Mytel', 'MM', '414', '09', '899509')
ON CONFLICT DO NOTHING;
