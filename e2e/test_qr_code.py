"""Journey 2: the QR code on the result decodes to the share link."""

import io

import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from helpers import drop_and_send, open_page


def test_qr_code_decodes_to_the_share_link(page):
    open_page(page)
    drop_and_send(page, "scan-me.txt", b"QR journey\n")
    expect(page.locator("#token-out")).to_be_visible()
    token = page.locator("#token-out").input_value()
    share_link = page.locator("#share-link").input_value()
    assert share_link == f"{page.evaluate('location.origin')}/#{token}"

    qr = page.locator("[data-result='qr'] svg")
    expect(qr).to_be_visible()
    image = Image.open(io.BytesIO(qr.screenshot()))
    # QR codes only: a search of every format once read a stray 1D barcode ("B$4B") in the QR's modules
    decoded = [result.text for result in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]
    assert decoded == [share_link]
