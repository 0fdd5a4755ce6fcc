"""The survey checks workbook (one function, so it can move to the shared Excel writer)."""

SUMMARY_HEADERS = ("Code", "Severity", "Check", "Issues", "Threshold", "Status")
ISSUE_HEADERS = ("Code", "Severity", "Message", "BIN", "Containment ID", "Other", "Value",
                 "Longitude", "Latitude")


def write_checks_workbook(path, summary_rows, issue_rows):
    """Write sheets "Summary" and "Issues"; rows are tuples in the header order above."""
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Font
    except ImportError:
        raise RuntimeError(
            "The Python package openpyxl is needed to write the workbook (Debian/Ubuntu: apt install "
            "python3-openpyxl; Windows/macOS: pip install openpyxl in the QGIS Python)."
        ) from None
    book = Workbook()
    for sheet, headers, rows in ((book.active, SUMMARY_HEADERS, summary_rows),
                                 (book.create_sheet(), ISSUE_HEADERS, issue_rows)):
        sheet.title = "Summary" if headers is SUMMARY_HEADERS else "Issues"
        sheet.append(list(headers))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(list(row))
        for index in range(len(headers)):
            sheet.column_dimensions[chr(ord("A") + index)].width = 20
        sheet.freeze_panes = "A2"
    book["Issues"].column_dimensions["C"].width = 90
    book.save(path)
