"""Layer records: the declarative description of one state layer."""

from geosvc.records.models import LayerRecord
from geosvc.records.loader import load_record, load_records

__all__ = ["LayerRecord", "load_record", "load_records"]
