# A language without a grammar here: the context falls back to line windows.
class Notes
  def initialize
    @notes = []
  end

  def add(text)
    @notes << text.strip
  end
end
