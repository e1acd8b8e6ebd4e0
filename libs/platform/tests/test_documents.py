"""Reports must carry a real Japanese font, or owners get boxes instead of text."""
import io

from pypdf import PdfReader

from otasuke.platform import documents


def test_pdf_embeds_the_japanese_font_and_keeps_the_text():
    plt = documents.pyplot()
    fig, ax = plt.subplots()
    ax.bar(["ネットワーク", "メール"], [3, 5])
    ax.set_title("月別の件数")
    chart = documents.figure_data_uri(fig)
    html = f"<html><head><style>{documents.base_css()}</style></head><body><h1>月次レポート</h1><img src='{chart}'></body></html>"
    pdf = documents.html_to_pdf(html)
    reader = PdfReader(io.BytesIO(pdf))
    page = reader.pages[0]
    assert "月次レポート" in page.extract_text()
    fonts = [f for f in page["/Resources"]["/Font"].values()]
    descendants = [f.get_object()["/DescendantFonts"][0].get_object() for f in fonts]
    assert any("IPAex" in d["/BaseFont"] and "/FontFile2" in d["/FontDescriptor"].get_object() for d in descendants)
