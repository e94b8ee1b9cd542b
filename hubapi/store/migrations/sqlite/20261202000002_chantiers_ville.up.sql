-- ?ville= on chantiers: without an index, its total (COUNT(*)) and its
-- pages for a rare ville scan the whole table (1 s on 1,000,000 rows). The
-- sort key follows so that a ville's pages in the default order
-- (-created_at) are an index range too.
CREATE INDEX chantiers_ville_created_at_id ON chantiers (ville, created_at, id);
