-- HuntZen Care: attendance events from Jitsi to the API (jitsi-contrib mod_event_sync_component,
-- copied into prosody-plugins-custom). Loaded by prosody from /config/conf.d.
Component "esync.meet.jitsi" "event_sync_component"
    muc_component = "muc.meet.jitsi"
    api_prefix = os.getenv("HUNTZEN_EVENT_SYNC_URL")
    api_headers = {
        ["Authorization"] = "Bearer " .. (os.getenv("HUNTZEN_WEBHOOK_SECRET") or "");
    }
