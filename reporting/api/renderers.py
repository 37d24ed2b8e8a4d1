"""CSV of a report: a header line, then one line per row, in the report's column order."""

import csv
import io

from rest_framework.renderers import BaseRenderer


class ReportCSVRenderer(BaseRenderer):
    """Renders `{"rows": [...]}` with the header the view puts in the renderer context."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        header = (renderer_context or {}).get("csv_header") or (list(data["rows"][0]) if data.get("rows") else [])
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore", lineterminator="\r\n")
        writer.writeheader()
        for row in data.get("rows", []):
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        return out.getvalue().encode(self.charset)
