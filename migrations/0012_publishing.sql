-- Publishing helpers: anonymous readers count article views; HR news notifies the company's
-- employees. Each does exactly that.

CREATE FUNCTION article_viewed(p_key text)
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE articles SET view_count = view_count + 1
    WHERE status = 'PUBLISHED' AND (slug = p_key OR id::text = p_key)
    RETURNING view_count
$$;

CREATE FUNCTION notify_company_news(p_news uuid)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    created integer;
BEGIN
    INSERT INTO notifications (user_id, type, title, message, link_url)
    SELECT u.id, 'NEWS_PUBLISHED', n.title, left(n.content, 200), '/news/' || n.id
    FROM news n
    JOIN users u ON u.company_id = n.company_id AND u.role = 'EMPLOYEE' AND u.is_active AND u.erased_at IS NULL
    WHERE n.id = p_news AND app_role() = 'ADMIN_RH' AND n.company_id = app_company_id();
    GET DIAGNOSTICS created = ROW_COUNT;
    RETURN created;
END
$$;

REVOKE ALL ON FUNCTION article_viewed(text), notify_company_news(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION article_viewed(text), notify_company_news(uuid) TO huntzen_app;
