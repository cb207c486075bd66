"""Custom search attributes ops filter by in the Temporal UI (all Keyword)."""

from temporalio.common import SearchAttributeKey

BC_ID = SearchAttributeKey.for_keyword("BusinessCenterId")
SHOP_CODE = SearchAttributeKey.for_keyword("ShopCode")
REQUEST_METHOD = SearchAttributeKey.for_keyword("RequestMethod")
REQUEST_STATUS = SearchAttributeKey.for_keyword("RequestStatus")
ALL = (BC_ID, SHOP_CODE, REQUEST_METHOD, REQUEST_STATUS)
