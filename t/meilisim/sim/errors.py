"""Meilisearch error objects for the emulator.

Raise MeiliError(code, message) anywhere; the HTTP layer renders it as
{"message", "code", "type", "link"} with the status of the code.  Codes not
in ERROR_TABLE default to 400 invalid_request; pass status/type to override.
"""

LINK = "https://docs.meilisearch.com/errors#"

_400 = (400, "invalid_request")

# code -> (HTTP status, type), per meilisearch-api.md section 2.
ERROR_TABLE = {
    "missing_authorization_header": (401, "auth"),
    "missing_master_key": (401, "auth"),
    "invalid_api_key": (403, "auth"),
    "remote_invalid_api_key": (403, "auth"),
    "index_not_found": (404, "invalid_request"),
    "document_not_found": (404, "invalid_request"),
    "task_not_found": (404, "invalid_request"),
    "batch_not_found": (404, "invalid_request"),
    "api_key_not_found": (404, "invalid_request"),
    "index_already_exists": (409, "invalid_request"),
    "api_key_already_exists": (409, "invalid_request"),
    "dump_already_processing": (409, "invalid_request"),
    "missing_content_type": (415, "invalid_request"),
    "invalid_content_type": (415, "invalid_request"),
    "payload_too_large": (413, "invalid_request"),
    "requires_enterprise_edition": (451, "invalid_request"),
    "too_many_search_requests": (503, "system"),
    "internal": (500, "internal"),
    "database_size_limit_reached": (500, "internal"),
    "io_error": (422, "system"),
    "no_space_left_on_device": (422, "system"),
    "too_many_open_files": (422, "system"),
    "remote_bad_response": (502, "system"),
    "remote_could_not_send_request": (502, "system"),
    "remote_remote_error": (502, "system"),
    "remote_timeout": (502, "system"),
    # 400 invalid_request (also the default for codes missing here)
    "bad_request": _400, "malformed_payload": _400, "missing_payload": _400,
    "invalid_index_uid": _400, "missing_index_uid": _400, "invalid_index_primary_key": _400,
    "invalid_index_offset": _400, "invalid_index_limit": _400, "immutable_index_uid": _400,
    "immutable_index_created_at": _400, "immutable_index_updated_at": _400,
    "index_primary_key_already_exists": _400, "index_primary_key_no_candidate_found": _400,
    "index_primary_key_multiple_candidates_found": _400, "invalid_document_id": _400,
    "missing_document_id": _400, "invalid_document_filter": _400, "missing_document_filter": _400,
    "invalid_document_offset": _400, "invalid_document_limit": _400,
    "invalid_document_fields": _400, "invalid_document_ids": _400,
    "invalid_document_retrieve_vectors": _400, "invalid_document_csv_delimiter": _400,
    "invalid_document_sort": _400, "invalid_document_use_network": _400,
    "invalid_skip_creation": _400, "invalid_swap_indexes": _400,
    "invalid_swap_duplicate_index_found": _400, "invalid_swap_rename": _400,
    "missing_swap_indexes": _400, "invalid_task_uids": _400, "invalid_task_statuses": _400,
    "invalid_task_types": _400, "invalid_task_canceled_by": _400, "invalid_task_limit": _400,
    "invalid_task_from": _400, "invalid_task_reverse": _400,
    "invalid_task_before_enqueued_at": _400, "invalid_task_after_enqueued_at": _400,
    "invalid_task_before_started_at": _400, "invalid_task_after_started_at": _400,
    "invalid_task_before_finished_at": _400, "invalid_task_after_finished_at": _400,
    "invalid_batch_uids": _400, "missing_task_filters": _400, "invalid_api_key_actions": _400,
    "invalid_api_key_indexes": _400, "invalid_api_key_expires_at": _400,
    "invalid_api_key_name": _400, "invalid_api_key_description": _400, "invalid_api_key_uid": _400,
    "invalid_api_key_offset": _400, "invalid_api_key_limit": _400, "missing_api_key_actions": _400,
    "missing_api_key_indexes": _400, "missing_api_key_expires_at": _400,
    "immutable_api_key_uid": _400, "immutable_api_key_actions": _400,
    "immutable_api_key_indexes": _400, "immutable_api_key_expires_at": _400,
    "immutable_api_key_key": _400, "immutable_api_key_created_at": _400,
    "immutable_api_key_updated_at": _400, "invalid_settings_displayed_attributes": _400,
    "invalid_settings_searchable_attributes": _400, "invalid_settings_filterable_attributes": _400,
    "invalid_settings_sortable_attributes": _400, "invalid_settings_ranking_rules": _400,
    "invalid_settings_stop_words": _400, "invalid_settings_non_separator_tokens": _400,
    "invalid_settings_separator_tokens": _400, "invalid_settings_dictionary": _400,
    "invalid_settings_synonyms": _400, "invalid_settings_distinct_attribute": _400,
    "invalid_settings_proximity_precision": _400, "invalid_settings_typo_tolerance": _400,
    "invalid_settings_faceting": _400, "invalid_settings_pagination": _400,
    "invalid_settings_embedders": _400, "invalid_settings_search_cutoff_ms": _400,
    "invalid_settings_localized_attributes": _400, "invalid_settings_facet_search": _400,
    "invalid_settings_prefix_search": _400, "invalid_settings_foreign_keys": _400,
    "invalid_settings_chat": _400, "invalid_search_q": _400, "invalid_search_offset": _400,
    "invalid_search_limit": _400, "invalid_search_page": _400,
    "invalid_search_hits_per_page": _400, "invalid_search_filter": _400,
    "invalid_search_sort": _400, "invalid_search_facets": _400, "invalid_search_distinct": _400,
    "invalid_search_attributes_to_retrieve": _400, "invalid_search_attributes_to_crop": _400,
    "invalid_search_attributes_to_highlight": _400, "invalid_search_attributes_to_search_on": _400,
    "invalid_search_crop_length": _400, "invalid_search_crop_marker": _400,
    "invalid_search_highlight_pre_tag": _400, "invalid_search_highlight_post_tag": _400,
    "invalid_search_matching_strategy": _400, "invalid_search_show_matches_position": _400,
    "invalid_search_show_ranking_score": _400, "invalid_search_show_ranking_score_details": _400,
    "invalid_search_show_performance_details": _400,
    "invalid_search_ranking_score_threshold": _400, "invalid_search_locales": _400,
    "invalid_search_hybrid_query": _400, "invalid_search_semantic_ratio": _400,
    "invalid_search_embedder": _400, "invalid_search_vector": _400, "missing_search_hybrid": _400,
    "invalid_search_media": _400, "invalid_search_retrieve_vectors": _400,
    "invalid_search_use_network": _400, "invalid_search_personalize": _400,
    "invalid_multi_search_federated": _400, "invalid_multi_search_federation": _400,
    "invalid_multi_search_federation_options": _400, "invalid_multi_search_weight": _400,
    "invalid_multi_search_remote": _400, "invalid_multi_search_query_position": _400,
    "invalid_multi_search_facets_by_index": _400, "invalid_multi_search_merge_facets": _400,
    "invalid_multi_search_max_values_per_facet": _400, "invalid_multi_search_facet_order": _400,
    "invalid_multi_search_facets": _400, "invalid_multi_search_query_facets": _400,
    "invalid_multi_search_query_pagination": _400,
    "invalid_multi_search_query_ranking_rules": _400, "invalid_multi_search_distinct": _400,
    "invalid_multi_search_query_distinct": _400, "invalid_facet_search_facet_name": _400,
    "missing_facet_search_facet_name": _400, "invalid_facet_search_query": _400,
    "invalid_facet_search_exhaustive_facet_count": _400, "facet_search_disabled": _400,
    "feature_not_enabled": _400, "max_fields_limit_exceeded": _400,
    "invalid_document_geo_field": _400, "invalid_document_geojson_field": _400,
    "invalid_export_url": _400, "invalid_export_api_key": _400,
    "invalid_export_payload_size": _400, "invalid_export_index_patterns": _400,
    "invalid_export_index_filter": _400, "invalid_export_index_override_settings": _400,
    "remote_bad_request": _400,
}


class MeiliError(Exception):
    def __init__(self, code, message, status=None, type=None):
        super().__init__(message)
        self.code = code
        self.message = message
        default_status, default_type = ERROR_TABLE.get(code, (400, "invalid_request"))
        self.status = status if status is not None else default_status
        self.type = type if type is not None else default_type

    def to_json(self):
        return {
            "message": self.message,
            "code": self.code,
            "type": self.type,
            "link": LINK + self.code,
        }
