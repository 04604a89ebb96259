-- Images for an audience: a news item's image is read by whoever reads the news (its company's
-- members), an article's cover by whoever reads the article (anyone once it is published; platform
-- staff for a draft). The file row names what it belongs to; the policies follow that row's own.
ALTER TABLE files
    ADD COLUMN news_id uuid REFERENCES news (id) ON DELETE SET NULL,
    ADD COLUMN article_id uuid REFERENCES articles (id) ON DELETE SET NULL;
CREATE INDEX files_news_idx ON files (news_id) WHERE news_id IS NOT NULL;
CREATE INDEX files_article_idx ON files (article_id) WHERE article_id IS NOT NULL;

CREATE POLICY files_news_image_read ON files FOR SELECT
    USING (purpose = 'NEWS_IMAGE' AND news_id IN (SELECT id FROM news));
CREATE POLICY files_article_cover_read ON files FOR SELECT
    USING (purpose = 'ARTICLE_COVER' AND article_id IN (SELECT id FROM articles));

-- Only an HR admin attaches an image to a news item of their company, only platform staff a cover
-- to an article; and a file is attached to one thing at most.
CREATE POLICY files_links_insert ON files AS RESTRICTIVE FOR INSERT
    WITH CHECK (
        (news_id IS NULL OR (purpose = 'NEWS_IMAGE' AND app_role() = 'ADMIN_RH'
            AND news_id IN (SELECT id FROM news WHERE company_id = app_company_id())))
        AND (article_id IS NULL OR (purpose = 'ARTICLE_COVER'
            AND app_role() IN ('ADMIN_HUNTZEN', 'SUPER_ADMIN')))
        AND num_nonnulls(news_id, article_id, consultation_id) <= 1);

-- A new image replaces the old ones, and deleting the news item or article deletes its images,
-- whoever of its editors uploaded them.
CREATE POLICY files_news_image_delete ON files FOR DELETE
    USING (purpose = 'NEWS_IMAGE' AND app_role() = 'ADMIN_RH'
        AND news_id IN (SELECT id FROM news WHERE company_id = app_company_id()));
CREATE POLICY files_article_cover_delete ON files FOR DELETE
    USING (purpose = 'ARTICLE_COVER' AND app_role() IN ('ADMIN_HUNTZEN', 'SUPER_ADMIN'));
